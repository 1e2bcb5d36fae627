/**
 * Runs the devstack Elasticsearch server alone in this process, so a benchmark's client and the server do not share
 * an event loop. Usage: `node --import tsx bench/support/elasticsearch-process.ts [--latency-ms N]`.
 * `--latency-ms` delays every bulk request by N ms (a slow cluster). Prints one JSON line `{"node":"http://…"}` once
 * listening; closes and exits on SIGTERM, SIGINT or when stdin ends (so it never outlives a parent that died).
 */
import { parseArgs } from 'node:util';
import { startElasticsearch } from '../../devstack/elasticsearch/index.ts';

const { values } = parseArgs({ options: { 'latency-ms': { type: 'string', default: '0' } } });
const es = await startElasticsearch({ host: '127.0.0.1', port: 0 });
const latency = Number(values['latency-ms']);
if (latency > 0) es.faults.latency({ ms: latency, only: 'bulk' });
process.stdout.write(`${JSON.stringify({ node: es.node })}\n`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  try {
    await es.close();
  } finally {
    process.exit(0);
  }
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.resume();

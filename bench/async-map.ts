/**
 * Issue 18's figure for asyncMap: a job (datagen → asyncMap(an HTTP GET) → discard, p = 1, in-process) looks every record
 * up on a local HTTP server (a child process) that answers after 10 ms, with concurrency 100. The ceiling is 100
 * requests per 10 ms = 10,000 records/s; the bar is ≥ 0.8× of it (8,000 records/s). Ordered and unordered, median
 * of the runs, each from the job's start to its last output.
 *
 *   npx tsx bench/async-map.ts [records=20000] [runs=3]
 */
import { spawn } from 'node:child_process';
import { Agent, get } from 'node:http';
import { datagen } from '../connectors/dev/index.ts';
import { defineJob } from '../runtime/api/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { discardSink } from './support/discard-sink.ts';
import { emitFigure, median } from './support/figure.ts';

const RECORDS = Number(process.argv[2] ?? 20_000);
const RUNS = Number(process.argv[3] ?? 3);
const DELAY_MS = 10;
const CONCURRENCY = 100;
/** The ceiling: 100 requests in flight, each answered after 10 ms. The bar is 0.8 × this = 8,000 records/s. */
const CEILING = (CONCURRENCY * 1000) / DELAY_MS;

// The lookup service runs in a child process, as a real one would run elsewhere: its work does not share the job's thread.
const SERVER = `
  const server = require('node:http').createServer((req, res) => {
    setTimeout(() => res.end(JSON.stringify({ id: req.url.slice(1), score: 7 })), ${DELAY_MS});
  });
  server.keepAliveTimeout = 60000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;
const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
const base = `http://127.0.0.1:${port}`;
// One keep-alive connection per request in flight, as a lookup client would be configured.
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/** GET `path` as JSON, aborted by `signal`. */
function getJson(path: string, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = get(`${base}${path}`, { agent, signal }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(JSON.parse(body)));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function run(order: 'ordered' | 'unordered'): Promise<number> {
  const counter = { count: 0 };
  const job = defineJob({ name: `bench-async-map-${order}`, parallelism: 1 }, (env) => {
    env
      .source(datagen({ count: RECORDS, record: (i) => ({ id: i }) }))
      .asyncMap(
        async (r, signal) => ({ ...r, ...((await getJson(`/${r.id}`, signal)) as { score: number }) }),
        { concurrency: CONCURRENCY, timeoutMs: 5_000, order },
      )
      .sink(discardSink(counter));
  });
  const started = performance.now();
  await new JobRunner({ job, workers: 0 }).run();
  if (counter.count !== RECORDS) throw new Error(`expected ${RECORDS} outputs, got ${counter.count}`);
  return RECORDS / ((performance.now() - started) / 1000);
}

try {
  for (const order of ['ordered', 'unordered'] as const) {
    const rates: number[] = [];
    for (let r = 0; r < RUNS; r++) rates.push(await run(order));
    emitFigure({
      name: `asyncMap ${order}, lookups answered after ${DELAY_MS} ms, concurrency ${CONCURRENCY}`,
      value: Math.round(median(rates)),
      unit: 'records/s',
      baseline: CEILING,
      note: `${RECORDS} records, p = 1, HTTP server in a child process, median of ${RUNS} (job start to last output); baseline: the ceiling of ${CONCURRENCY} per ${DELAY_MS} ms; bar ≥ 0.8× (8,000/s)`,
    });
  }
} finally {
  agent.destroy();
  child.kill();
}

import { resolve } from 'node:path';
import type { Logger } from '../../logging/index.ts';
import { startService } from '../../service/index.ts';
import { parseCommandLine, portNumber, workerThreads, workersUsage } from '../arguments.ts';
import { applyHeapGrowth, heapGrowthUsage, parseHeapGrowth } from '../heap-growth.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const START_USAGE = `Usage: sluice start [options]

Runs the sluice service until Ctrl-C: the REST API (docs/rest.md), the job registry and the checkpoints in the data
directory. Jobs that were running when the service last stopped or crashed resume from their latest checkpoint.
Submitting a job runs its code in this process: job files are read from this machine's filesystem.

Options:
      --data-dir <dir>         registry and checkpoints (default: .sluice)
      --host <host>            address to listen on (default: 127.0.0.1; any other needs a token)
      --port <port>            port (default: 8081; 0 picks a free one, written to <data-dir>/service.json)
      --token <token>          require "Authorization: Bearer <token>" on every call (default: $SLUICE_TOKEN)
      --metrics-auth <mode>    GET /metrics (Prometheus) with the token like the API (token, default) or open (none)
${workersUsage(31, '(for jobs submitted without --workers; default: one per core)')}
      --log-level <level>      trace, debug, info, warn, error (default: info)
${heapGrowthUsage(31)}
  -h, --help                   show this help`;

/** `sluice start`: returns the exit code once stopped with Ctrl-C (or SIGTERM). */
export async function startCommand(args: readonly string[], logger: Logger, out: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    {
      'data-dir': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      token: { type: 'string' },
      'metrics-auth': { type: 'string' },
      workers: { type: 'string' },
      'log-level': { type: 'string' },
      'heap-growth': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    START_USAGE,
  );
  if (values.help === true) {
    out.write(`${START_USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, START_USAGE);
  const port = portNumber('--port', values.port, START_USAGE) ?? 8081;
  const host = values.host ?? '127.0.0.1';
  const workers = workerThreads(values.workers, START_USAGE);
  applyHeapGrowth(parseHeapGrowth(values['heap-growth'], START_USAGE));
  const token = values.token ?? process.env['SLUICE_TOKEN'];
  const metricsAuth = values['metrics-auth'] ?? 'token';
  if (metricsAuth !== 'token' && metricsAuth !== 'none') throw new UsageError(`--metrics-auth expects token or none, got "${metricsAuth}"`, START_USAGE);
  const dataDir = resolve(values['data-dir'] ?? '.sluice');

  // Signals that arrive while jobs are being resumed must still stop the service cleanly.
  const stopped = new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  const service = await startService({ dataDir, host, port, ...(token === undefined ? {} : { token }), ...(workers === undefined ? {} : { workers }), metricsAuth, logger });
  out.write(`sluice service listening on ${service.url} (data dir ${dataDir}${token === undefined || token === '' ? '' : ', token required'}). Ctrl-C stops.\n`);
  await stopped;
  await service.close();
  out.write('sluice service stopped; running jobs resume with the next start\n');
  return EXIT.ok;
}

import { resolve } from 'node:path';
import { JobParams } from '../../api/index.ts';
import { CheckpointStore } from '../../checkpoint/index.ts';
import type { Logger } from '../../logging/index.ts';
import { JobRunner, type RestoreSource } from '../../runner/index.ts';
import { parseCommandLine, portNumber, positiveInteger, workerThreads, workersUsage } from '../arguments.ts';
import { loadJobFile } from '../load-job.ts';
import { ProgressLine } from '../progress-line.ts';
import type { StatusLine } from '../status-line.ts';
import { applyHeapGrowth, heapGrowthUsage, parseHeapGrowth } from '../heap-growth.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const RUN_USAGE = `Usage: sluice run <job.ts> [options]

Runs a job in the foreground until it finishes (bounded sources) or Ctrl-C.

Options:
  -p, --parallelism <n>          default parallelism (restoring at another parallelism redistributes state)
      --set <key=value>          job parameter, repeatable (read with params.string/number in the job)
${workersUsage(33, "(default: the job's workers, else one per core)")}
      --data-dir <dir>           checkpoints and job state (default: .sluice)
      --from <id|file>           restore from this checkpoint id or savepoint file instead of the latest
      --fresh                    ignore existing checkpoints and start from the beginning
      --allow-non-restored-state drop state of operators the job no longer has
      --metrics-port <port>      serve Prometheus metrics at http://<host>:<port>/metrics (0 picks a free port)
      --metrics-host <host>      address for --metrics-port (default: 127.0.0.1)
      --ui-port <port>           serve the web dashboard at http://<host>:<port>/ (0 picks a free port)
      --ui-host <host>           address for --ui-port (default: 127.0.0.1; any other needs $SLUICE_TOKEN)
      --log-level <level>        trace, debug, info, warn, error (default: info)
${heapGrowthUsage(33)}
  -h, --help                     show this help`;

/**
 * `sluice run`: returns the process exit code. On a terminal, `status` holds the progress line and `logger` writes
 * above it; without one, progress goes to the log once a second.
 */
export async function runCommand(args: readonly string[], logger: Logger, out: NodeJS.WriteStream, status?: StatusLine): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    {
      parallelism: { type: 'string', short: 'p' },
      workers: { type: 'string' },
      set: { type: 'string', multiple: true },
      'data-dir': { type: 'string' },
      from: { type: 'string' },
      fresh: { type: 'boolean' },
      'allow-non-restored-state': { type: 'boolean' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'ui-port': { type: 'string' },
      'ui-host': { type: 'string' },
      'log-level': { type: 'string' },
      'heap-growth': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    RUN_USAGE,
  );
  if (values.help === true) {
    out.write(`${RUN_USAGE}\n`);
    return EXIT.ok;
  }
  const file = positionals[0];
  if (file === undefined) throw new UsageError('sluice run needs a job file', RUN_USAGE);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, RUN_USAGE);
  if (values.fresh === true && values.from !== undefined) throw new UsageError('--fresh and --from exclude each other', RUN_USAGE);
  const parallelism = positiveInteger('--parallelism', values.parallelism, RUN_USAGE);
  const workers = workerThreads(values.workers, RUN_USAGE);
  const params = JobParams.parse(values.set ?? []);
  const metricsPort = portNumber('--metrics-port', values['metrics-port'], RUN_USAGE);
  if (values['metrics-host'] !== undefined && metricsPort === undefined) throw new UsageError('--metrics-host needs --metrics-port', RUN_USAGE);
  const uiPort = portNumber('--ui-port', values['ui-port'], RUN_USAGE);
  if (values['ui-host'] !== undefined && uiPort === undefined) throw new UsageError('--ui-host needs --ui-port', RUN_USAGE);
  const heapGrowth = parseHeapGrowth(values['heap-growth'], RUN_USAGE);
  const restore: RestoreSource =
    values.fresh === true
      ? { from: 'none' }
      : values.from === undefined
        ? { from: 'latest' }
        : /^\d+$/.test(values.from)
          ? { from: 'checkpoint', id: Number(values.from) }
          : { from: 'file', path: resolve(values.from) };

  applyHeapGrowth(heapGrowth);
  const job = await loadJobFile(file);
  const checkpointing = job.options.checkpoints !== undefined && job.options.checkpoints !== false;
  const dataDir = resolve(values['data-dir'] ?? '.sluice');
  // Restoring a checkpoint by id needs the store it is in: a mistyped --data-dir says so instead of creating one.
  const store = restore.from === 'checkpoint'
    ? await CheckpointStore.openExisting(dataDir, { logger })
    : checkpointing || restore.from !== 'latest'
      ? await CheckpointStore.open(dataDir, { logger })
      : undefined;
  try {
    const runner = new JobRunner({
      job,
      params,
      ...(parallelism === undefined ? {} : { parallelism }),
      ...(workers === undefined ? {} : { workers }),
      jobModule: resolve(file),
      ...(store === undefined ? {} : { store }),
      restore,
      allowNonRestoredState: values['allow-non-restored-state'] === true,
      logger,
    });
    // Loaded only when asked for: prom-client alone adds ~50 ms to every start.
    const metricsServer = metricsPort === undefined ? undefined : await serveJobMetrics(runner, values['metrics-host'] ?? '127.0.0.1', metricsPort, logger);
    let uiServer: { close(): Promise<void> } | undefined;
    try {
      uiServer = uiPort === undefined ? undefined : await serveJobDashboard(runner, store, resolve(file), params, values['ui-host'] ?? '127.0.0.1', uiPort, logger);
    } catch (err) {
      await metricsServer?.close();
      throw err;
    }
    const stop = (): void => runner.cancel('stopped (Ctrl-C)');
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const progress = new ProgressLine();
    const subscription = runner.events.subscribe((event) => progress.onEvent(event));
    const started = Date.now();
    const ticker = setInterval(() => {
      const line = progress.format(Date.now(), runner.metrics());
      if (line === undefined) return;
      if (status !== undefined) status.show(line);
      else logger.info({ progress: line }, line);
    }, 1000);
    try {
      const outcome = await runner.run();
      status?.clear();
      const stages = runner.metrics();
      const records = stages[0]?.recordsIn ?? 0;
      out.write(`job "${runner.plan.job}" ${outcome}: ${records} records read in ${((Date.now() - started) / 1000).toFixed(1)} s${runner.attempts > 1 ? ` (${runner.attempts - 1} restarts)` : ''}\n`);
      return EXIT.ok;
    } finally {
      status?.clear();
      subscription.unsubscribe();
      clearInterval(ticker);
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      await Promise.all([metricsServer?.close(), uiServer?.close()]);
    }
  } finally {
    await store?.close();
  }
}

/** `--metrics-port`: the runner's Prometheus metrics on their own port, its URL logged. */
async function serveJobMetrics(runner: JobRunner, host: string, port: number, logger: Logger): Promise<{ close(): Promise<void> }> {
  const { METRICS_PATH, serveMetrics, SluiceMetrics } = await import('../../metrics/index.ts');
  const metrics = new SluiceMetrics();
  metrics.jobs.track(runner.plan.job, runner);
  const server = await serveMetrics(metrics, { host, port, logger });
  logger.info({ url: `${server.url}${METRICS_PATH}` }, `Prometheus metrics at ${server.url}${METRICS_PATH}`);
  return server;
}

/** `--ui-port`: the dashboard and the job's API on their own port, its URL logged. */
async function serveJobDashboard(runner: JobRunner, store: CheckpointStore | undefined, file: string, params: JobParams, host: string, port: number, logger: Logger): Promise<{ close(): Promise<void> }> {
  const { serveDashboard } = await import('../../dashboard/index.ts');
  const job = { runner, file, params: Object.fromEntries(params.entries()), startedAt: Date.now(), ...(store === undefined ? {} : { store }) };
  const server = await serveDashboard(job, { host, port, token: process.env['SLUICE_TOKEN'], logger });
  logger.info({ url: `${server.url}/` }, `dashboard at ${server.url}/`);
  return server;
}

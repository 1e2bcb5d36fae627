import { resolve } from 'node:path';
import type { Logger } from '../../logging/index.ts';
import { startService } from '../../service/index.ts';
import { parseCommandLine, portNumber, positiveInteger, workerThreads, workersUsage } from '../arguments.ts';
import { applyHeapGrowth, heapGrowthUsage, parseHeapGrowth } from '../heap-growth.ts';
import { kafkaSecurity, kafkaSecurityUsage, type KafkaSecurity } from '../kafka-security.ts';
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

Cluster mode (docs/cluster.md): several services share their jobs through Kafka; each job runs on one of them.
      --cluster <name>         join cluster <name> (Kafka group sluice.<name>, topics sluice.<name>.*)
      --brokers <host:port,…>  the cluster's Kafka brokers (required with --cluster)
      --name <name>            this member's name in status and logs (default: host:port of its API)
      --advertise-url <url>    how the other members reach this one (default: the address it listens on;
                               set it with --host 0.0.0.0 or behind NAT)
      --session-timeout <ms>   silence after which the others take this member's jobs (default: 10000)
      --replication-factor <n> of the topics the cluster creates (default: 3, or the brokers' count when fewer)
${kafkaSecurityUsage(31)}
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
      cluster: { type: 'string' },
      brokers: { type: 'string' },
      name: { type: 'string' },
      'advertise-url': { type: 'string' },
      'session-timeout': { type: 'string' },
      'replication-factor': { type: 'string' },
      'kafka-ssl': { type: 'boolean' },
      'kafka-sasl': { type: 'string' },
      'kafka-user': { type: 'string' },
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
  const clusterOnly = (['brokers', 'name', 'advertise-url', 'session-timeout', 'replication-factor', 'kafka-ssl', 'kafka-sasl', 'kafka-user'] as const).find((flag) => values[flag] !== undefined && values.cluster === undefined);
  if (clusterOnly !== undefined) throw new UsageError(`--${clusterOnly} needs --cluster <name>`, START_USAGE);
  if (values.cluster !== undefined) {
    if (!/^[A-Za-z0-9._-]+$/.test(values.cluster)) throw new UsageError(`--cluster "${values.cluster}" must be letters, digits, '.', '_' or '-' (it names Kafka topics)`, START_USAGE);
    const brokers = (values.brokers ?? '').split(',').map((b) => b.trim()).filter((b) => b !== '');
    if (brokers.length === 0) throw new UsageError('--cluster needs --brokers <host:port,...>: the Kafka cluster that coordinates the members', START_USAGE);
    const sessionTimeoutMs = positiveInteger('--session-timeout', values['session-timeout'], START_USAGE);
    const replicationFactor = positiveInteger('--replication-factor', values['replication-factor'], START_USAGE);
    const advertisedUrl = values['advertise-url'];
    if (advertisedUrl !== undefined && !/^https?:\/\/[^/\s]+\/?$/.test(advertisedUrl)) {
      throw new UsageError(`--advertise-url expects http(s)://host:port, got "${advertisedUrl}"`, START_USAGE);
    }
    const security = kafkaSecurity(values, process.env, START_USAGE);
    return runClusterMember({ cluster: values.cluster, brokers, dataDir, host, port, token, workers, metricsAuth, name: values.name, advertisedUrl: advertisedUrl?.replace(/\/$/, ''), sessionTimeoutMs, replicationFactor, security }, logger, out);
  }

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

/** `sluice start --cluster`: a cluster member until Ctrl-C, which hands its jobs over to the others first. */
async function runClusterMember(
  o: { cluster: string; brokers: string[]; dataDir: string; host: string; port: number; token: string | undefined; workers: number | undefined; metricsAuth: 'token' | 'none'; name: string | undefined; advertisedUrl: string | undefined; sessionTimeoutMs: number | undefined; replicationFactor: number | undefined; security: KafkaSecurity },
  logger: Logger,
  out: NodeJS.WriteStream,
): Promise<number> {
  const { startClusterMember } = await import('../../cluster/cluster-member.ts');
  const abort = new AbortController();
  const stopped = new Promise<void>((done) => {
    const stop = (): void => {
      abort.abort();
      done();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  let member: Awaited<ReturnType<typeof startClusterMember>>;
  try {
    member = await startClusterMember({
      cluster: o.cluster,
      brokers: o.brokers,
      dataDir: o.dataDir,
      host: o.host,
      port: o.port,
      metricsAuth: o.metricsAuth,
      logger,
      signal: abort.signal,
      ...(o.token === undefined ? {} : { token: o.token }),
      ...(o.workers === undefined ? {} : { workers: o.workers }),
      ...(o.name === undefined ? {} : { name: o.name }),
      ...(o.advertisedUrl === undefined ? {} : { advertisedUrl: o.advertisedUrl }),
      ...(o.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: o.sessionTimeoutMs }),
      ...(o.replicationFactor === undefined ? {} : { replicationFactor: o.replicationFactor }),
      kafka: o.security,
    });
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    out.write(`sluice cluster member stopped before it joined cluster "${o.cluster}"\n`);
    return EXIT.ok;
  }
  out.write(`sluice cluster member "${member.name}" of cluster "${o.cluster}" listening on ${member.url} (data dir ${o.dataDir}). Ctrl-C hands its jobs over and stops.\n`);
  await stopped;
  await member.close();
  out.write('sluice cluster member stopped; its jobs run on the other members\n');
  return EXIT.ok;
}

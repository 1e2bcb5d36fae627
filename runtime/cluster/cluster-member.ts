import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { kafkajsLogCreator } from '../kafkajs/kafkajs-logger.ts';
import { CheckpointStore } from '../checkpoint/index.ts';
import { DASHBOARD_PATHS, dashboardRoute } from '../dashboard/index.ts';
import type { Logger } from '../logging/index.ts';
import { METRICS_PATH, SluiceMetrics } from '../metrics/index.ts';
import { checkBindSafety } from '../service/auth.ts';
import { listen, type ListeningServer } from '../service/http-server.ts';
import { JobFileLoader } from '../service/job-loader.ts';
import { JobRegistry } from '../service/job-registry.ts';
import { JobSupervisor } from '../service/job-supervisor.ts';
import { restApi } from '../service/rest-api.ts';
import { SERVICE_INFO_FILE } from '../service/service.ts';
import { clusterApi } from './cluster-api.ts';
import { ClusterCoordination } from './cluster-coordination.ts';
import { JobsLog } from './jobs/jobs-log.ts';
import { StatusLog } from './jobs/status-log.ts';
import { clusterTopics, ensureClusterTopics, type ClusterTopics } from './kafka/cluster-topics.ts';
import { isSluiceError, SluiceError } from '../errors/index.ts';
import { ClusterCheckpointTools } from './checkpoints/checkpoint-tools.ts';
import { MemberJobs } from './member-jobs.ts';

export interface ClusterMemberOptions {
  /** The cluster's name: its Kafka group is `sluice.<cluster>`, its topics `sluice.<cluster>.*`. */
  readonly cluster: string;
  readonly brokers: readonly string[];
  /**
   * How the member's own Kafka client (group, cluster topics, replicated checkpoints) reaches secured brokers: TLS
   * and SASL as kafkajs takes them. Jobs' sources and sinks have their own `ssl` and `sasl` options.
   */
  readonly kafka?: { readonly ssl?: boolean | ConnectionOptions; readonly sasl?: SASLOptions };
  /** This member's local registry, checkpoint copies and job bundles. One per member. */
  readonly dataDir: string;
  readonly host?: string;
  /** Default 8081; 0 picks a free port. */
  readonly port?: number;
  readonly token?: string;
  readonly workers?: number;
  /** The member's name in status and logs; default `<host>:<port>` of its advertised URL. */
  readonly name?: string;
  /**
   * The URL other members (forwarding requests to a job's owner) and `sluice cluster status` readers use to reach this
   * member. Default: the address it listens on — set it when that is `0.0.0.0` or behind NAT.
   */
  readonly advertisedUrl?: string;
  /** How long a member may be silent before the group drops it and its jobs move. Default 10 s. */
  readonly sessionTimeoutMs?: number;
  /** Replication factor of topics the cluster creates. Default 3, or the brokers' count when fewer (1 on the devstack). */
  readonly replicationFactor?: number;
  readonly metricsAuth?: 'token' | 'none';
  readonly logger: Logger;
  /** Stops waiting for unreachable brokers at start (Ctrl-C). */
  readonly signal?: AbortSignal;
}

/** How long to wait between attempts to reach the brokers at start. */
const BROKER_RETRY_MS = 5_000;

/** A running cluster member. */
export interface RunningClusterMember {
  readonly url: string;
  readonly name: string;
  readonly dataDir: string;
  /** Hands this member's jobs over (each stopped with a savepoint that its next owner restores), leaves the group, stops. */
  close(): Promise<void>;
}

/** Test-only: a member that dies as with kill -9 (no LeaveGroup, no savepoints, its sockets dropped). */
export interface ClusterMemberTestHooks {
  crash(): Promise<void>;
  /** Stops the member's heartbeats while its jobs run on, until the returned thaw: its session runs out meanwhile. */
  freezeMembership(): () => void;
}

const testHooks = new WeakMap<RunningClusterMember, ClusterMemberTestHooks>();

/** @internal For tests only. */
export function clusterMemberTestHooks(member: RunningClusterMember): ClusterMemberTestHooks {
  return testHooks.get(member)!;
}

/**
 * Starts a member of a Sluice cluster (docs/cluster.md): creates the cluster's topics when missing, joins its group,
 * runs the jobs the leader assigns it (restored from checkpoints replicated through Kafka) and serves the REST API —
 * cluster routes (`/v1/cluster`, submitting to the cluster) plus the standalone routes for the jobs it runs.
 *
 * @example
 * ```ts
 * const member = await startClusterMember({ cluster: 'prod', brokers: ['kafka-1:9092'], dataDir: '.sluice', port: 0, logger });
 * // sluice submit jobs/orders.ts --url <member.url>: any member writes it to the jobs topic, the leader assigns it
 * await member.close();
 * ```
 */
export async function startClusterMember(options: ClusterMemberOptions): Promise<RunningClusterMember> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token === '' ? undefined : options.token;
  checkBindSafety(host, token);
  const dataDir = resolve(options.dataDir);
  const logger = options.logger.child({ component: 'cluster', cluster: options.cluster });
  const config: KafkaConfig = {
    clientId: `sluice-${options.cluster}`,
    brokers: [...options.brokers],
    logCreator: kafkajsLogCreator(logger),
    ...(options.kafka?.ssl === undefined ? {} : { ssl: options.kafka.ssl }),
    ...(options.kafka?.sasl === undefined ? {} : { sasl: options.kafka.sasl }),
  };
  const kafka = new Kafka(config);
  const topics = clusterTopics(options.cluster);
  // kafkajs retries a refused connection by the client's retry settings, not the admin's (~10 s by default): a
  // client of its own with one quick retry lets the first "cannot reach" say so within a second.
  const partitions = await reachBrokers(new Kafka({ ...config, retry: { retries: 1, initialRetryTime: 200 } }), topics, options, logger);
  const cleanups: Array<() => Promise<unknown>> = [];
  const undo = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const registry = await JobRegistry.open(dataDir);
    cleanups.push(() => registry.close());
    const store = await CheckpointStore.open(dataDir, { logger });
    cleanups.push(() => store.close());
    const jobsLog = await JobsLog.open({ kafka, topic: topics.jobs, partitions: partitions.jobs, logger });
    cleanups.push(() => jobsLog.close());
    const status = await StatusLog.open({ kafka, topic: topics.status, logger });
    cleanups.push(() => status.close());
    const metrics = new SluiceMetrics();
    let name = options.name ?? '';
    const tools = new ClusterCheckpointTools({ kafka, topic: topics.checkpoints, partitions: partitions.checkpoints, dataDir, member: () => name, logger });
    const jobs = new MemberJobs({ kafka, topics, checkpointPartitions: partitions.checkpoints, dataDir, store, tools, status, member: name, logger });
    const loader = new JobFileLoader();
    const supervisor = new JobSupervisor({
      registry,
      store,
      loader,
      dataDir,
      logger,
      ...(options.workers === undefined ? {} : { workers: options.workers }),
      onRunner: (job, runner) => {
        // Jobs come and go on a member: an ended run must not stay reachable (with its state) through its metrics.
        const untrack = metrics.jobs.track(job, runner);
        const ended = runner.events.subscribe((event) => {
          if (event.type !== 'finished' && event.type !== 'cancelled' && event.type !== 'failed') return;
          untrack();
          ended.unsubscribe();
        });
        jobs.onRunner(job, runner);
      },
      clusterRun: (job) => jobs.clusterRun(job),
    });
    jobs.attach(supervisor);
    cleanups.push(() => supervisor.close());
    const coordination = new ClusterCoordination({ kafka, cluster: options.cluster, jobsLog, status, jobs, sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000, logger });
    const local = restApi(supervisor);
    const cluster = clusterApi({ cluster: options.cluster, coordination, jobsLog, status, tools, loader, dataDir, local, token });
    const dashboard = dashboardRoute();
    const openPaths = new Set([...DASHBOARD_PATHS, ...(options.metricsAuth === 'none' ? [METRICS_PATH] : [])]);
    const server: ListeningServer = await listen({ host, port: options.port ?? 8081, token, openPaths, handle: (request) => metrics.route(request) ?? dashboard(request) ?? cluster(request), logger });
    cleanups.push(() => server.close());
    const advertised = options.advertisedUrl ?? server.url;
    if (options.advertisedUrl === undefined && (host === '0.0.0.0' || host === '::')) {
      logger.warn({ url: server.url }, `cluster member listens on ${host}: the other members would forward requests to ${server.url}, which they cannot reach; set --advertise-url to the address they should use`);
    }
    name = options.name ?? new URL(advertised).host;
    coordination.identify(name, advertised);
    jobs.rename(name);
    const infoFile = join(dataDir, SERVICE_INFO_FILE);
    await writeFile(infoFile, `${JSON.stringify({ url: server.url, pid: process.pid, startedAt: new Date().toISOString(), cluster: options.cluster, member: name })}\n`);
    cleanups.push(() => rm(infoFile, { force: true }));
    await coordination.start();
    let closed: Promise<void> | undefined;
    const member: RunningClusterMember = {
      url: server.url,
      name,
      dataDir,
      close: () =>
        (closed ??= (async () => {
          await coordination.leave();
          await undo();
        })()),
    };
    testHooks.set(member, {
      crash: () =>
        (closed ??= (async () => {
          await coordination.crash();
          await undo();
        })()),
      freezeMembership: () => coordination.freezeMembership(),
    });
    return member;
  } catch (err) {
    await undo();
    throw err;
  }
}

/**
 * Creates (or finds) the cluster's topics, waiting for the brokers as long as it takes: a member started before its
 * Kafka cluster (a restart of everything, a typo being fixed) keeps saying what it waits for instead of exiting.
 */
async function reachBrokers(kafka: Kafka, topics: ClusterTopics, options: ClusterMemberOptions, logger: Logger): Promise<Record<keyof ClusterTopics, number>> {
  for (let attempt = 1; ; attempt++) {
    // Few retries inside kafkajs (the caller's client): this loop retries, and says so.
    const admin = kafka.admin();
    try {
      await admin.connect();
      const { partitions, warnings } = await ensureClusterTopics(admin, topics, options.replicationFactor === undefined ? {} : { replicationFactor: options.replicationFactor });
      for (const warning of warnings) logger.warn(warning);
      return partitions;
    } catch (err) {
      if (isSluiceError(err) && !err.retriable) throw err;
      if ((err as Error).name === 'KafkaJSSASLAuthenticationError') {
        // Retrying cannot fix credentials: say so at once instead of waiting for brokers that answered.
        throw new SluiceError(
          'SLUICE_CLUSTER_KAFKA_AUTH',
          `the Kafka brokers ${options.brokers.join(',')} of cluster "${options.cluster}" refused the member's credentials (${(err as Error).message}); check --kafka-sasl, --kafka-user and $SLUICE_KAFKA_PASSWORD`,
          { cause: err, retriable: false },
        );
      }
      logger.warn(
        { err, brokers: options.brokers, attempt },
        `cannot reach the Kafka brokers ${options.brokers.join(',')} of cluster "${options.cluster}" (${(err as Error).message}); retrying in ${BROKER_RETRY_MS / 1000} s — check --brokers and that Kafka is up`,
      );
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await abortableDelay(BROKER_RETRY_MS, options.signal);
    if (options.signal?.aborted === true) {
      throw new SluiceError('SLUICE_CANCELLED', `stopped while waiting for the Kafka brokers ${options.brokers.join(',')} of cluster "${options.cluster}"`);
    }
  }
}

function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

import { randomBytes } from 'node:crypto';
import { SluiceError } from '../../runtime/errors/index.ts';
import { silentLogger, type Logger } from '../../runtime/logging/index.ts';
import { systemClock, type Clock } from '../../runtime/time/index.ts';
import type { NodeInfo } from './admin-handlers.ts';
import type { ClientConnection } from './connection.ts';
import { Broker } from './broker.ts';
import { FaultState, type KafkaBrokerFaults } from './faults.ts';
import { DEFAULT_CLEANER_BACKOFF_MS, DEFAULT_RETENTION_CHECK_INTERVAL_MS, MaintenanceLoop } from './log/maintenance-loop.ts';
import { PartitionLog } from './log/partition-log.ts';
import { TopicStore, type Topic } from './log/topic-store.ts';
import { DataDir, type BrokerMetadataFile } from './persistence/data-dir.ts';
import { SASL_MECHANISMS, type SaslOptions } from './sasl/sasl-session.ts';
import { KafkaServer, type TlsOptions } from './server.ts';

export type { KafkaBrokerFaults } from './faults.ts';
export type { SaslOptions } from './sasl/sasl-session.ts';
export type { TlsOptions } from './server.ts';
export type { ClientConnection } from './connection.ts';

/** Options of {@link startKafkaBroker}. */
export interface KafkaBrokerOptions {
  /** Interface to listen on and to advertise in Metadata. Default `127.0.0.1`. */
  host?: string;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Directory for topics, logs, offsets and transaction state; without it everything is in memory. */
  dataDir?: string;
  /** Partition count of auto-created topics (Kafka's `num.partitions`). Default 1. */
  numPartitions?: number;
  /** Create unknown topics when a client asks for their metadata (`auto.create.topics.enable`). Default true. */
  autoCreateTopics?: boolean;
  /** pino logger; default silent. */
  logger?: Logger;
  /** Clock for group session/rebalance timeouts and transaction timeouts. Default the system clock. */
  clock?: Clock;
  /**
   * `group.initial.rebalance.delay.ms`. Kafka's default is 3000; the devstack defaults to 0 (as most development
   * setups configure it) so tests do not wait three seconds per new group.
   */
  groupInitialRebalanceDelayMs?: number;
  /** `group.min.session.timeout.ms`, default 6000 as in Kafka. */
  groupMinSessionTimeoutMs?: number;
  /** `group.max.session.timeout.ms`, default 300000 as in Kafka 2.1. */
  groupMaxSessionTimeoutMs?: number;
  /** `transaction.max.timeout.ms`, default 900000. */
  transactionMaxTimeoutMs?: number;
  /**
   * `log.cleaner.backoff.ms`: how often the log cleaner looks for compacted partitions to clean. Default 15000, as in
   * Kafka; tests of compaction set it lower.
   */
  logCleanerBackoffMs?: number;
  /**
   * `log.retention.check.interval.ms`: how often segments of topics with `cleanup.policy=delete` are checked against
   * `retention.ms` and `retention.bytes`. Default 300000, as in Kafka; tests of retention set it lower.
   */
  logRetentionCheckIntervalMs?: number;
  /**
   * Require SASL on the listener (Kafka's SASL_PLAINTEXT; PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512): clients must
   * authenticate as one of these users before any request but ApiVersions. Without it the listener is PLAINTEXT.
   */
  sasl?: SaslOptions;
  /**
   * Require TLS on the listener (Kafka's SSL listener; SASL_SSL together with `sasl`): the server's key and certificate
   * (PEM). Clients then connect with `ssl: { ca: [cert] }` for a self-signed certificate.
   */
  tls?: TlsOptions;
}

/** A running devstack broker. */
export interface KafkaBroker {
  /** Bootstrap list for clients, e.g. `['127.0.0.1:40123']`. */
  readonly brokers: string[];
  /** Fault injection for tests. */
  readonly faults: KafkaBrokerFaults;
  /**
   * The client connections open now, each with the clientId of its latest request. Read-only: tests use it to find
   * clients that were never disconnected (closing the broker would otherwise close their sockets and hide that).
   */
  clientConnections(): ClientConnection[];
  /** Stops listening, closes every connection and flushes state to `dataDir`. Idempotent. */
  close(): Promise<void>;
}

export const NODE_ID = 1;
/** Metadata writes are coalesced for this long: offset commits can arrive hundreds of times a second. */
const METADATA_FLUSH_DELAY_MS = 5;

/**
 * Starts a single-node Kafka-protocol broker speaking what kafkajs 2.2.4 uses against Kafka 2.1: produce
 * (idempotent and transactional), fetch long polls with read_committed, consumer groups, offsets and the admin API.
 * It is controller, partition leader, group and transaction coordinator at once.
 *
 * @example
 * ```ts
 * import { Kafka } from 'kafkajs';
 * import { startKafkaBroker } from './devstack/kafka/index.ts';
 *
 * const broker = await startKafkaBroker({ numPartitions: 3, dataDir: '/tmp/kafka-dev' });
 * const kafka = new Kafka({ brokers: broker.brokers });
 * // ... produce and consume ...
 * await broker.close();
 * ```
 */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const numPartitions = options.numPartitions ?? 1;
  validate(port, numPartitions, { logCleanerBackoffMs: options.logCleanerBackoffMs, logRetentionCheckIntervalMs: options.logRetentionCheckIntervalMs }, options.sasl);
  const log = options.logger ?? silentLogger();
  const clock = options.clock ?? systemClock;

  const dataDir = options.dataDir === undefined ? undefined : new DataDir(options.dataDir);
  const meta = dataDir?.readMetadata();
  const clusterId = meta?.clusterId ?? randomBytes(16).toString('base64url').slice(0, 22);

  let flushTimer: NodeJS.Timeout | undefined;
  let broker: Broker | undefined;
  let closed = false;
  const flush = (): void => {
    if (flushTimer !== undefined) clearTimeout(flushTimer);
    flushTimer = undefined;
    if (dataDir === undefined || broker === undefined) return;
    dataDir.writeMetadata(snapshot(clusterId, broker));
  };
  const scheduleFlush = (): void => {
    if (dataDir === undefined || closed || flushTimer !== undefined) return;
    flushTimer = setTimeout(flush, METADATA_FLUSH_DELAY_MS);
  };

  const topics = new TopicStore(
    dataDir === undefined
      ? undefined
      : {
          openPartition: (topic, partition) => dataDir.openPartition(topic, partition),
          removeTopic: (topic) => dataDir.removeTopic(topic),
          topicsChanged: scheduleFlush,
        },
  );
  if (dataDir !== undefined && meta !== undefined) {
    for (const [name, t] of Object.entries(meta.topics)) {
      const topic: Topic = { name, partitions: [], configs: new Map(Object.entries(t.configs)) };
      for (let p = 0; p < t.partitions; p++) {
        const loaded = dataDir.loadPartition(name, p);
        const plog = new PartitionLog(name, p, dataDir.openPartition(name, p), topic.configs);
        for (const b of loaded) plog.recover(b.buf, b.header, b.baseOffset);
        plog.advanceLogStartOffset(t.logStartOffsets?.[p] ?? 0);
        topic.partitions.push(plog);
      }
      topics.restore(topic);
    }
  }

  let server: KafkaServer | undefined;
  const node: NodeInfo = {
    nodeId: NODE_ID,
    host,
    port: () => server?.port ?? port,
    clusterId,
    numPartitions,
    autoCreateTopics: options.autoCreateTopics ?? true,
  };
  broker = new Broker({
    node,
    topics,
    clock,
    logger: log,
    groupInitialRebalanceDelayMs: options.groupInitialRebalanceDelayMs ?? 0,
    groupMinSessionTimeoutMs: options.groupMinSessionTimeoutMs ?? 6000,
    groupMaxSessionTimeoutMs: options.groupMaxSessionTimeoutMs ?? 300000,
    transactionMaxTimeoutMs: options.transactionMaxTimeoutMs ?? 900000,
    onStateChanged: scheduleFlush,
  });
  if (meta !== undefined) {
    broker.groups.restoreOffsets(meta.offsets);
    broker.txns.restore(meta.transactions);
  }

  const maintenance = [
    new MaintenanceLoop('log cleaner', topics, options.logCleanerBackoffMs ?? DEFAULT_CLEANER_BACKOFF_MS, (l, now) => l.compact(now), log),
    new MaintenanceLoop('retention', topics, options.logRetentionCheckIntervalMs ?? DEFAULT_RETENTION_CHECK_INTERVAL_MS, (l, now) => {
      const removed = l.applyRetention(now);
      if (removed !== undefined) scheduleFlush(); // broker.json keeps the log start offsets
      return removed;
    }, log),
  ];
  for (const loop of maintenance) loop.start();

  const faultState = new FaultState();
  const srv = new KafkaServer(host, broker, faultState, log, {
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  server = srv;
  await srv.listen(port);
  const address = `${host}:${srv.port}`;
  log.info({ address, dataDir: options.dataDir }, 'devstack kafka broker listening');

  let refuseTimer: NodeJS.Timeout | undefined;
  const faults: KafkaBrokerFaults = {
    dropConnections: () => srv.dropConnections(),
    refuseConnections(ms) {
      if (refuseTimer !== undefined) clearTimeout(refuseTimer);
      void srv.stopListening().then(() => {
        refuseTimer = setTimeout(() => {
          refuseTimer = undefined;
          if (!closed) srv.listen(srv.port).catch((err: unknown) => log.error({ err }, 'kafka broker could not listen again'));
        }, ms);
      });
    },
    delayResponses: (api, ms) => faultState.setDelay(api, ms),
    failNext: (api, errorCode, count = 1) => faultState.addFailures(api, errorCode, count),
    async restart(opts = {}) {
      await srv.close();
      flush();
      if ((opts.downMs ?? 0) > 0) await new Promise((r) => setTimeout(r, opts.downMs));
      if (!closed) await srv.listen(srv.port);
    },
    clear: () => faultState.clear(),
  };

  const b = broker;
  return {
    brokers: [address],
    faults,
    clientConnections: () => srv.clientConnections(),
    async close() {
      if (closed) return;
      closed = true;
      for (const loop of maintenance) loop.stop();
      if (refuseTimer !== undefined) clearTimeout(refuseTimer);
      await srv.close();
      b.close();
      flush();
      topics.close();
      log.info({ address }, 'devstack kafka broker closed');
    },
  };
}

function validate(port: number, numPartitions: number, intervals: Record<string, number | undefined>, sasl: SaslOptions | undefined): void {
  if (sasl !== undefined && (typeof sasl.users !== 'object' || sasl.users === null || Object.keys(sasl.users).length === 0)) {
    throw new SluiceError('SLUICE_DEVSTACK_KAFKA_OPTIONS', 'startKafkaBroker: sasl.users must name at least one user, e.g. { users: { alice: "alice-secret" } }');
  }
  const unknown = sasl?.mechanisms?.find((m) => !SASL_MECHANISMS.includes(m));
  if (unknown !== undefined) {
    throw new SluiceError('SLUICE_DEVSTACK_KAFKA_OPTIONS', `startKafkaBroker: sasl.mechanisms may hold ${SASL_MECHANISMS.join(', ')}, got "${unknown}"`);
  }
  for (const [name, ms] of Object.entries(intervals)) {
    if (ms !== undefined && !(Number.isInteger(ms) && ms > 0)) {
      throw new SluiceError('SLUICE_DEVSTACK_KAFKA_OPTIONS', `startKafkaBroker: ${name} must be a positive integer (ms), got ${ms}`);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SluiceError('SLUICE_DEVSTACK_KAFKA_OPTIONS', `startKafkaBroker: port must be an integer 0-65535, got ${port}`);
  }
  if (!Number.isInteger(numPartitions) || numPartitions < 1) {
    throw new SluiceError(
      'SLUICE_DEVSTACK_KAFKA_OPTIONS',
      `startKafkaBroker: numPartitions must be a positive integer, got ${numPartitions}`,
    );
  }
}

function snapshot(clusterId: string, broker: Broker): BrokerMetadataFile {
  const topics: BrokerMetadataFile['topics'] = {};
  for (const t of broker.topics.all()) {
    topics[t.name] = { partitions: t.partitions.length, configs: Object.fromEntries(t.configs) };
    if (t.partitions.some((p) => p.logStartOffset > 0)) topics[t.name]!.logStartOffsets = t.partitions.map((p) => p.logStartOffset);
  }
  return {
    version: 1,
    clusterId,
    topics,
    transactions: broker.txns.snapshot(),
    offsets: broker.groups.snapshotOffsets(),
  };
}

import { createRequire } from 'node:module';
import type { Kafka, Message } from 'kafkajs';
import { SluiceError } from '../../../runtime/errors/index.ts';
import { createKafkajsCluster } from '../../../runtime/kafkajs/kafkajs-cluster.ts';

/**
 * The few kafkajs internals the exactly-once sink needs, typed here and nowhere else.
 *
 * Why internals at all: a checkpoint records a pre-committed transaction as (transactional id, producer id, epoch).
 * After a crash, the restored attempt must send `EndTxn(commit)` with exactly that producer id and epoch, *before*
 * anything calls `InitProducerId` on the id (which would abort the transaction and bump the epoch). kafkajs's public
 * producer neither reports its producer id/epoch nor lets one resume a transaction (Flink does the same on the Java
 * client by reflection). kafkajs 2.2.4 is pinned and frozen, so these shapes cannot drift; `assertInternals()`
 * still checks them at load time so a different version fails loudly instead of misbehaving.
 *
 * What is used: the client's cluster factory (the `private:Kafka:createCluster` symbol, so ssl/sasl/retry settings
 * are exactly the client's), `producer/eosManager` (producer id, epoch, transaction state), `producer/messageProducer`
 * (batched sends with idempotent sequence numbers) and the broker's `endTxn` request.
 */

/** A kafkajs broker connection (only the request we send directly). */
export interface InternalBroker {
  endTxn(request: { transactionalId: string; producerId: number; producerEpoch: number; transactionResult: boolean }): Promise<unknown>;
}

/** kafkajs's cluster: metadata, coordinators and broker connections of one client. */
export interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findGroupCoordinator(request: { groupId: string; coordinatorType: number }): Promise<InternalBroker>;
}

/** kafkajs's `EosManager`: producer id, epoch, sequence numbers and the transaction state machine of one id. */
export interface InternalEosManager {
  getProducerId(): number;
  getProducerEpoch(): number;
  initProducerId(): Promise<void>;
  isInitialized(): boolean;
  isInTransaction(): boolean;
  beginTransaction(): void;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface TopicMessages {
  topic: string;
  messages: Message[];
}

export type SendBatch = (request: { acks: number; topicMessages: TopicMessages[] }) => Promise<unknown>;

/** `FindCoordinator` key type of a transaction coordinator (`COORDINATOR_TYPES.TRANSACTION`). */
export const TRANSACTION_COORDINATOR = 1;

interface KafkajsLogger {
  namespace(name: string): KafkajsLogger;
}

interface Internals {
  createEosManager(options: {
    logger: KafkajsLogger;
    cluster: InternalCluster;
    transactionTimeout: number;
    transactional: boolean;
    transactionalId: string;
  }): InternalEosManager;
  createMessageProducer(options: {
    logger: KafkajsLogger;
    cluster: InternalCluster;
    partitioner: unknown;
    eosManager: InternalEosManager;
    idempotent: boolean;
    retrier: unknown;
    getConnectionStatus(): string;
  }): { sendBatch: SendBatch };
  createRetry(options: unknown): unknown;
  DefaultPartitioner(): unknown;
}

let loaded: Internals | undefined;

function internals(): Internals {
  if (loaded !== undefined) return loaded;
  const require = createRequire(import.meta.url);
  try {
    const mod: Internals = {
      createEosManager: require('kafkajs/src/producer/eosManager/index.js'),
      createMessageProducer: require('kafkajs/src/producer/messageProducer.js'),
      createRetry: require('kafkajs/src/retry/index.js'),
      DefaultPartitioner: require('kafkajs/src/producer/partitioners/index.js').DefaultPartitioner,
    };
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value !== 'function') throw new Error(`kafkajs internal "${name}" is not a function`);
    }
    loaded = mod;
    return mod;
  } catch (err) {
    throw new SluiceError(
      'SLUICE_INTERNAL',
      `the exactly-once Kafka sink needs kafkajs 2.2.4's internals (producer/eosManager, producer/messageProducer): ${(err as Error).message}; install kafkajs@2.2.4`,
      { cause: err, retriable: false },
    );
  }
}

/** One kafkajs cluster with the client's settings; also gives kafkajs's root logger and retry settings. */
export interface ClusterHandle {
  readonly cluster: InternalCluster;
  readonly logger: KafkajsLogger;
  readonly retry: unknown;
}

/** A cluster made by `kafka`'s own factory, so brokers, ssl, sasl, timeouts and retries are the client's. */
export function createCluster(kafka: Kafka): ClusterHandle {
  const cluster = createKafkajsCluster<InternalCluster>(
    kafka,
    { metadataMaxAge: 300_000, allowAutoTopicCreation: true, maxInFlightRequests: null, instrumentationEmitter: null },
    'the exactly-once Kafka sink',
  );
  const retrySymbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:clusterRetry');
  const retry = retrySymbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[retrySymbol];
  return { cluster, logger: kafka.logger() as unknown as KafkajsLogger, retry };
}

/** kafkajs's transaction manager for `transactionalId` on `handle`'s cluster. */
export function createEosManager(handle: ClusterHandle, transactionalId: string, transactionTimeoutMs: number): InternalEosManager {
  return internals().createEosManager({
    logger: handle.logger.namespace('SluiceTransactionalProducer'),
    cluster: handle.cluster,
    transactionTimeout: transactionTimeoutMs,
    transactional: true,
    transactionalId,
  });
}

/** kafkajs's batched, idempotent send bound to `eosManager` (the same code `producer.transaction().sendBatch` runs). */
export function createTransactionalSend(handle: ClusterHandle, eosManager: InternalEosManager, isConnected: () => boolean): SendBatch {
  const mod = internals();
  const { sendBatch } = mod.createMessageProducer({
    logger: handle.logger.namespace('SluiceTransactionalProducer'),
    cluster: handle.cluster,
    partitioner: mod.DefaultPartitioner(),
    eosManager,
    idempotent: true,
    // The client's retry budget: when it runs out the send fails, the attempt fails and the transaction is aborted
    // (reconnect first, then escalate to a job restart: docs/checkpoints.md, "Failover").
    retrier: mod.createRetry(handle.retry),
    getConnectionStatus: () => (isConnected() ? 'connected' : 'disconnected'),
  });
  return sendBatch;
}

/** kafkajs error type names (`err.type`) the sink reacts to. */
export function kafkaErrorType(err: unknown): string | undefined {
  const type = (err as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

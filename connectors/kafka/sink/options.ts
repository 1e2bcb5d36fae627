import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { SluiceError } from '../../../runtime/errors/index.ts';

/** Delivery guarantee of a {@link kafkaSink}. */
export type KafkaSinkGuarantee = 'at-least-once' | 'exactly-once';

/** Headers added to every record: fixed, or computed per record. */
export type KafkaSinkHeaders<T> =
  | Readonly<Record<string, string | Buffer>>
  | ((record: T) => Readonly<Record<string, string | Buffer>> | undefined);

/** Options of {@link kafkaSink}. */
export interface KafkaSinkOptions<T> {
  /** Bootstrap brokers, `host:port`. */
  brokers: readonly string[];
  /** Topic every record goes to. Give exactly one of `topic` and `topicFn`. */
  topic?: string;
  /** Topic per record. */
  topicFn?: (record: T) => string;
  /** Record key (decides the partition with kafkajs's default partitioner); default none. */
  key?: (record: T) => string | Buffer | null;
  /** Record value; default `JSON.stringify(record)`. */
  serializer?: (record: T) => Buffer | string;
  /** Headers added to every record: fixed, or a function of the record. Default none. */
  headers?: KafkaSinkHeaders<T>;
  /** Default `at-least-once`. */
  guarantee?: KafkaSinkGuarantee;
  /**
   * Exactly-once: transactional ids are `<prefix>-<subtask>-<slot>`. Default `sluice-<job name>`; set it when a job
   * has more than one exactly-once Kafka sink, or two jobs share a name on one cluster.
   */
  transactionalIdPrefix?: string;
  /**
   * Exactly-once: Kafka aborts a transaction open longer than this. Must cover checkpoint interval + checkpoint
   * timeout + restart delay (else a restore may find its pre-committed transaction aborted), and be at most the
   * broker's `transaction.max.timeout.ms` (15 min by default). Default 15 min, like Flink.
   */
  transactionTimeoutMs?: number;
  /** Messages per produce request; default 1,000 (kafkajs's cost grows with the square of messages per send). */
  batchSize?: number;
  /** Produce requests in flight before `write` waits; default 8. */
  maxInFlightSends?: number;
  /** TLS: `true`, or Node's `tls.connect` options (CA, client certificate). Default plain TCP. */
  ssl?: boolean | ConnectionOptions;
  /** SASL authentication as kafkajs takes it (`plain`, `scram-sha-256`, `scram-sha-512`, …). Default none. */
  sasl?: SASLOptions;
  /** Default `sluice-<job>-sink`. */
  clientId?: string;
  /** TCP connect timeout per broker; default 1 s (kafkajs's default). */
  connectionTimeoutMs?: number;
  /** Retries of a failing request before the sink fails the attempt (kafkajs retry); default 5 retries from 300 ms. */
  retry?: { retries?: number; initialRetryTimeMs?: number; maxRetryTimeMs?: number };
}

/** {@link KafkaSinkOptions} with defaults applied (job-dependent ones are resolved by the writer). */
export interface ResolvedKafkaSinkOptions<T> {
  readonly brokers: readonly string[];
  readonly topicOf: (record: T) => string;
  /** Set when every record goes to the same topic (the common case, one array per send). */
  readonly fixedTopic: string | undefined;
  readonly key: ((record: T) => string | Buffer | null) | undefined;
  readonly serializer: (record: T) => Buffer | string;
  readonly headers: KafkaSinkHeaders<T> | undefined;
  readonly guarantee: KafkaSinkGuarantee;
  readonly transactionalIdPrefix: string | undefined;
  readonly transactionTimeoutMs: number;
  readonly batchSize: number;
  readonly maxInFlightSends: number;
  readonly ssl: boolean | ConnectionOptions | undefined;
  readonly sasl: SASLOptions | undefined;
  readonly clientId: string | undefined;
  readonly connectionTimeoutMs: number | undefined;
  readonly retry: KafkaSinkOptions<T>['retry'];
}

/**
 * The exactly-once Kafka sink's `transactionTimeoutMs` when none is given: 15 minutes, the broker's default
 * `transaction.max.timeout.ms` (a longer one is refused by a broker left at its defaults).
 */
export const DEFAULT_TRANSACTION_TIMEOUT_MS = 15 * 60_000;
export const DEFAULT_BATCH_SIZE = 1_000;
export const DEFAULT_MAX_IN_FLIGHT_SENDS = 8;

const GUARANTEES: readonly KafkaSinkGuarantee[] = ['at-least-once', 'exactly-once'];
/** Kafka's legal characters for ids, kept for prefixes so the derived ids are legal too. */
const ID_CHARS = /^[a-zA-Z0-9._-]+$/;
const BROKER = /^[^\s:]+:\d{1,5}$/;

function invalid(option: string, expected: string, got?: unknown): SluiceError {
  const shown = got === undefined ? '' : `, got ${typeof got === 'function' ? 'a function' : JSON.stringify(got) ?? String(got)}`;
  return new SluiceError('SLUICE_INVALID_OPTION', `kafkaSink option "${option}" must be ${expected}${shown}`, { retriable: false });
}

function positiveInteger(options: Record<string, unknown>, name: string, fallback: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw invalid(name, 'a positive integer', value);
  return value;
}

function optionalFunction(options: Record<string, unknown>, name: string, signature: string): void {
  const value = options[name];
  if (value !== undefined && typeof value !== 'function') throw invalid(name, `a function ${signature}`, value);
}

/** Validates `options` (every problem is a `SLUICE_INVALID_OPTION` naming the option) and applies defaults. */
export function resolveKafkaSinkOptions<T>(options: KafkaSinkOptions<T>): ResolvedKafkaSinkOptions<T> {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object');
  const raw = options as unknown as Record<string, unknown>;
  const brokers = options.brokers;
  if (!Array.isArray(brokers) || brokers.length === 0 || !brokers.every((b) => typeof b === 'string' && BROKER.test(b))) {
    throw invalid('brokers', 'a non-empty array of "host:port" strings', brokers);
  }
  if ((options.topic === undefined) === (options.topicFn === undefined)) {
    throw invalid('topic', 'given, or "topicFn" given instead (exactly one of the two)');
  }
  if (options.topic !== undefined && (typeof options.topic !== 'string' || !ID_CHARS.test(options.topic) || options.topic.length > 249)) {
    throw invalid('topic', 'a Kafka topic name (letters, digits, ".", "_", "-"; at most 249 characters)', options.topic);
  }
  optionalFunction(raw, 'topicFn', '(record) => topic');
  optionalFunction(raw, 'key', '(record) => string | Buffer | null');
  optionalFunction(raw, 'serializer', '(record) => Buffer | string');
  if (options.headers !== undefined && typeof options.headers !== 'function' && (typeof options.headers !== 'object' || options.headers === null)) {
    throw invalid('headers', 'an object of header values or a function (record) => headers', options.headers);
  }
  const guarantee = options.guarantee ?? 'at-least-once';
  if (!GUARANTEES.includes(guarantee)) throw invalid('guarantee', `one of ${GUARANTEES.map((g) => `"${g}"`).join(', ')}`, guarantee);
  const prefix = options.transactionalIdPrefix;
  if (prefix !== undefined && (typeof prefix !== 'string' || !ID_CHARS.test(prefix) || prefix.length > 200)) {
    throw invalid('transactionalIdPrefix', 'a non-empty string of letters, digits, ".", "_", "-" (at most 200 characters)', prefix);
  }
  if (prefix !== undefined && guarantee !== 'exactly-once') {
    throw invalid('transactionalIdPrefix', 'used only with guarantee "exactly-once"; remove it or set guarantee: "exactly-once"');
  }
  const transactionTimeoutMs = positiveInteger(raw, 'transactionTimeoutMs', DEFAULT_TRANSACTION_TIMEOUT_MS);
  const batchSize = positiveInteger(raw, 'batchSize', DEFAULT_BATCH_SIZE);
  const maxInFlightSends = positiveInteger(raw, 'maxInFlightSends', DEFAULT_MAX_IN_FLIGHT_SENDS);
  const connectionTimeoutMs = options.connectionTimeoutMs === undefined ? undefined : positiveInteger(raw, 'connectionTimeoutMs', 0);
  if (options.clientId !== undefined && (typeof options.clientId !== 'string' || options.clientId === '')) {
    throw invalid('clientId', 'a non-empty string', options.clientId);
  }
  const retry = options.retry;
  if (retry !== undefined) {
    if (typeof retry !== 'object' || retry === null) throw invalid('retry', 'an object { retries, initialRetryTimeMs, maxRetryTimeMs }', retry);
    if (retry.retries !== undefined && (!Number.isInteger(retry.retries) || retry.retries < 0)) throw invalid('retry.retries', 'a non-negative integer', retry.retries);
    for (const name of ['initialRetryTimeMs', 'maxRetryTimeMs'] as const) {
      const v = retry[name];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw invalid(`retry.${name}`, 'a positive integer', v);
    }
  }
  const fixedTopic = options.topic;
  const topicFn = options.topicFn;
  return {
    brokers: [...brokers],
    topicOf: fixedTopic !== undefined ? () => fixedTopic : (topicFn as (record: T) => string),
    fixedTopic,
    key: options.key,
    serializer: options.serializer ?? jsonValue,
    headers: options.headers,
    guarantee,
    transactionalIdPrefix: prefix,
    transactionTimeoutMs,
    batchSize,
    maxInFlightSends,
    ssl: options.ssl,
    sasl: options.sasl,
    clientId: options.clientId,
    connectionTimeoutMs,
    retry,
  };
}

function jsonValue(record: unknown): string {
  const text = JSON.stringify(record);
  if (text === undefined) {
    throw new SluiceError('SLUICE_KAFKA_SERIALIZATION_FAILED', `kafkaSink cannot write ${String(record)} as JSON; give a "serializer" for such records`, { retriable: false });
  }
  return text;
}

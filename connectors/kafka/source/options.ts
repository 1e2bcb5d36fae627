import type { SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';
import type { Sink } from '../../../runtime/api/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import type { DeadLetter } from './dead-letter.ts';
import type { ValueDeserializer } from './deserializer.ts';

/** Where splits without a checkpointed position start. */
export type StartFrom = 'earliest' | 'latest' | 'committed' | { readonly timestamp: number };

/** How record values are decoded: a built-in format or your own function (throw to reject a record). */
export type ValueFormat<V> = 'json' | 'string' | 'bytes' | ValueDeserializer<V>;

/** What to do with a record whose value cannot be decoded. */
export type OnDeserializationError = 'fail' | 'skip' | { readonly deadLetter: Sink<DeadLetter> };

/** Options of {@link kafkaSource}. Exactly one of `topics` and `topicPattern`. */
export interface KafkaSourceOptions<V> {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** Topics to read, every partition of each. Give this or `topicPattern`. */
  readonly topics?: readonly string[];
  /** Every topic whose name matches, including topics created while the job runs. */
  readonly topicPattern?: RegExp;
  /** Consumer group the checkpointed offsets are committed to (lag tooling, `startFrom: 'committed'`). Default `sluice-<job>`. */
  readonly groupId?: string;
  /** Start of splits on a fresh start (no checkpoint). Default `'earliest'`. */
  readonly startFrom?: StartFrom;
  /**
   * How values are decoded: `'json'`, `'string'`, `'bytes'`, or a function of the raw bytes (throw to reject the
   * record).
   */
  readonly format: ValueFormat<V>;
  /** How often topic metadata is polled for new partitions and topics. Default 10 000 ms. */
  readonly discoveryIntervalMs?: number;
  /** Default `'fail'`. */
  readonly onDeserializationError?: OnDeserializationError;
  /** The client id the source's connections use. Default `sluice`. */
  readonly clientId?: string;
  /** TLS: `true`, or Node's `tls.connect` options (CA, client certificate). Default plain TCP. */
  readonly ssl?: boolean | ConnectionOptions;
  /** SASL authentication as kafkajs takes it (`plain`, `scram-sha-256`, `scram-sha-512`, …). Default none. */
  readonly sasl?: SASLOptions;
  /** TCP connect timeout per attempt. Default 1 000 ms (kafkajs's). */
  readonly connectionTimeoutMs?: number;
  /** Per-request timeout. Default 30 000 ms (kafkajs's). */
  readonly requestTimeoutMs?: number;
  /** The client's retry budget before the reader fails; kafkajs's defaults (5 retries, 300 ms doubling to 30 s). */
  readonly retry?: { readonly retries?: number; readonly initialRetryTimeMs?: number; readonly maxRetryTimeMs?: number };
  /** Fetch knobs. `maxWaitMs` (default 500) bounds how long `close()` waits for the fetch in flight. */
  readonly fetch?: {
    readonly maxWaitMs?: number;
    readonly minBytes?: number;
    readonly maxBytes?: number;
    readonly maxBytesPerPartition?: number;
  };
  /** Bytes of fetched records a reader buffers ahead of the pipeline before fetching pauses. Default 1 MiB. */
  readonly bufferBytes?: number;
  /** Most records per batch handed to the pipeline. Default 1 000. */
  readonly maxBatchRecords?: number;
  /** Read records of open and aborted transactions too. Default false (read committed). */
  readonly readUncommitted?: boolean;
}

/** Options after validation, with every default filled in. */
export interface ResolvedKafkaSourceOptions<V> {
  readonly brokers: readonly string[];
  readonly topics: readonly string[] | undefined;
  readonly topicPattern: RegExp | undefined;
  readonly groupId: string | undefined;
  readonly startFrom: StartFrom;
  readonly format: ValueFormat<V>;
  readonly discoveryIntervalMs: number;
  readonly onDeserializationError: OnDeserializationError;
  readonly clientId: string;
  readonly ssl: boolean | ConnectionOptions | undefined;
  readonly sasl: SASLOptions | undefined;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly retries: number;
  readonly initialRetryTimeMs: number;
  readonly maxRetryTimeMs: number;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly maxBytesPerPartition: number;
  readonly bufferBytes: number;
  readonly maxBatchRecords: number;
  readonly readUncommitted: boolean;
}

/** Kafka's topic name rule (kafka.common.internals.Topic): 1–249 of `[a-zA-Z0-9._-]`. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const BROKER = /^[^\s:]+:\d{1,5}$/;

/** Checks every option and fills in defaults; throws one SluiceError naming the first bad option. */
export function resolveKafkaSourceOptions<V>(options: KafkaSourceOptions<V>): ResolvedKafkaSourceOptions<V> {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  const { brokers, topics, topicPattern } = options;
  if (!Array.isArray(brokers) || brokers.length === 0 || !brokers.every((b) => typeof b === 'string' && BROKER.test(b))) {
    throw invalid('brokers', 'a non-empty array of "host:port" strings', brokers);
  }
  if ((topics === undefined) === (topicPattern === undefined)) {
    throw invalid('topics', 'given, or else "topicPattern" (exactly one of the two)', topics === undefined ? 'neither' : 'both');
  }
  if (topics !== undefined) {
    if (!Array.isArray(topics) || topics.length === 0) throw invalid('topics', 'a non-empty array of topic names', topics);
    const bad = topics.find((t) => typeof t !== 'string' || !TOPIC_NAME.test(t));
    if (bad !== undefined) throw invalid('topics', 'topic names of 1–249 characters from [a-zA-Z0-9._-]', bad);
  }
  if (topicPattern !== undefined && !(topicPattern instanceof RegExp)) throw invalid('topicPattern', 'a RegExp', topicPattern);
  if (options.groupId !== undefined && (typeof options.groupId !== 'string' || options.groupId.length === 0)) {
    throw invalid('groupId', 'a non-empty string', options.groupId);
  }
  const startFrom = options.startFrom ?? 'earliest';
  const startOk =
    startFrom === 'earliest' || startFrom === 'latest' || startFrom === 'committed' ||
    (typeof startFrom === 'object' && startFrom !== null && Number.isFinite(startFrom.timestamp) && startFrom.timestamp >= 0);
  if (!startOk) throw invalid('startFrom', "'earliest', 'latest', 'committed' or { timestamp: <ms since epoch> }", startFrom);
  const format = options.format;
  if (format !== 'json' && format !== 'string' && format !== 'bytes' && typeof format !== 'function') {
    throw invalid('format', "'json', 'string', 'bytes' or a function (value, record) => decoded", format);
  }
  const onError = options.onDeserializationError ?? 'fail';
  const onErrorOk =
    onError === 'fail' || onError === 'skip' ||
    (typeof onError === 'object' && onError !== null && typeof onError.deadLetter?.createWriter === 'function');
  if (!onErrorOk) throw invalid('onDeserializationError', "'fail', 'skip' or { deadLetter: <a Sink> }", onError);
  if (options.clientId !== undefined && (typeof options.clientId !== 'string' || options.clientId.length === 0)) {
    throw invalid('clientId', 'a non-empty string', options.clientId);
  }
  const retry = options.retry ?? {};
  const fetch = options.fetch ?? {};
  const resolved: ResolvedKafkaSourceOptions<V> = {
    brokers: [...brokers],
    topics: topics === undefined ? undefined : [...new Set(topics)],
    // A global or sticky RegExp keeps state between test() calls; matching must not depend on history.
    topicPattern: topicPattern === undefined ? undefined : new RegExp(topicPattern.source, topicPattern.flags.replace(/[gy]/g, '')),
    groupId: options.groupId,
    startFrom,
    format,
    discoveryIntervalMs: int('discoveryIntervalMs', options.discoveryIntervalMs, 10_000, 10),
    onDeserializationError: onError,
    clientId: options.clientId ?? 'sluice',
    ssl: options.ssl,
    sasl: options.sasl,
    connectionTimeoutMs: int('connectionTimeoutMs', options.connectionTimeoutMs, 1_000, 1),
    requestTimeoutMs: int('requestTimeoutMs', options.requestTimeoutMs, 30_000, 1),
    retries: int('retry.retries', retry.retries, 5, 0),
    initialRetryTimeMs: int('retry.initialRetryTimeMs', retry.initialRetryTimeMs, 300, 1),
    maxRetryTimeMs: int('retry.maxRetryTimeMs', retry.maxRetryTimeMs, 30_000, 1),
    maxWaitMs: int('fetch.maxWaitMs', fetch.maxWaitMs, 500, 0),
    minBytes: int('fetch.minBytes', fetch.minBytes, 1, 1),
    maxBytes: int('fetch.maxBytes', fetch.maxBytes, 10 * 1024 * 1024, 1),
    maxBytesPerPartition: int('fetch.maxBytesPerPartition', fetch.maxBytesPerPartition, 1024 * 1024, 1),
    bufferBytes: int('bufferBytes', options.bufferBytes, 1024 * 1024, 1),
    maxBatchRecords: int('maxBatchRecords', options.maxBatchRecords, 1_000, 1),
    readUncommitted: options.readUncommitted ?? false,
  };
  if (typeof resolved.readUncommitted !== 'boolean') throw invalid('readUncommitted', 'a boolean', resolved.readUncommitted);
  return resolved;
}

function int(option: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw invalid(option, `an integer ≥ ${min}`, value);
  return value;
}

function invalid(option: string, expected: string, got: unknown): SluiceError {
  return new SluiceError('SLUICE_INVALID_OPTION', `kafkaSource option "${option}" must be ${expected}; got ${describe(got)}`, { retriable: false });
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (value instanceof RegExp) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

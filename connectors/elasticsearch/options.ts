import { SluiceError } from '../../runtime/errors/index.ts';
import type { Sink } from '../../runtime/api/index.ts';
import type { DeadLetter } from './dead-letter.ts';
import { ES_SINK_ERRORS } from './errors.ts';

/** What each record becomes in Elasticsearch. */
export type ElasticsearchAction = 'index' | 'create' | 'upsert' | 'delete';

/** Credentials, as @elastic/elasticsearch takes them. */
export type ElasticsearchAuth =
  | { readonly username: string; readonly password: string }
  | { readonly apiKey: string | { readonly id: string; readonly api_key: string } }
  | { readonly bearer: string };

/** Limits of one bulk request; a request is sent when either limit is reached or the interval passed. */
export interface BulkOptions {
  /** Actions per bulk request. Default 1,000. */
  readonly maxActions: number;
  /** Bytes of NDJSON per bulk request. Default 5 MiB. */
  readonly maxBytes: number;
  /** Buffers are sent at least this often, full or not. Default 1,000 ms. */
  readonly flushIntervalMs: number;
  /** Bulk requests in flight at once per sink subtask (documents are spread over them by id). Default 2. */
  readonly maxInFlight: number;
}

/** Retries of 429s, 5xx and connection errors: exponential backoff with full jitter. */
export interface RetryOptions {
  /** Retries of one bulk request before the job fails over. Default 8. */
  readonly maxRetries: number;
  /** Upper bound of the first wait. Default 100 ms. */
  readonly initialBackoffMs: number;
  /** Upper bound of any wait. Default 10,000 ms. */
  readonly maxBackoffMs: number;
}

/** Where documents that can never be indexed go. Exactly one of the three. */
export type DeadLetterOptions<T> =
  /** An Elasticsearch index on the same node (created with a fitting mapping if missing). */
  | { readonly index: string }
  /** Any Sink (a Kafka topic, a file sink…); it takes part in checkpoints like the main sink. */
  | { readonly sink: Sink<DeadLetter<T>> }
  /** An NDJSON file, appended to and fsynced before the sink acknowledges a checkpoint. */
  | { readonly file: string };

/** Index settings and mappings for {@link ElasticsearchSinkOptions.createIndex}. */
export interface CreateIndexOptions {
  /** Index settings, as the create index API takes them (e.g. `{ number_of_shards: 1 }`). */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Index mappings, as the create index API takes them. */
  readonly mappings?: Readonly<Record<string, unknown>>;
}

/** Options of `elasticsearchSink`. See docs/connectors/elasticsearch.md. */
export interface ElasticsearchSinkOptions<T> {
  /** Node URL(s), e.g. `http://127.0.0.1:9200`. */
  readonly node: string | readonly string[];
  /** Credentials: username and password, an API key, or a bearer token. Default none. */
  readonly auth?: ElasticsearchAuth;
  /** Target index; give this or `indexFn`. */
  readonly index?: string;
  /** Target index per record; give this or `index`. */
  readonly indexFn?: (record: T) => string;
  /**
   * Document id: a function of the record, or `'topic-partition-offset'` for records that carry their Kafka origin.
   * Required: deterministic ids are what make replays overwrite instead of duplicate.
   */
  readonly id: ((record: T) => string | number) | 'topic-partition-offset';
  /** Default `'index'`. `'upsert'` = update with `doc_as_upsert`; `'create'` treats "already exists" as done. */
  readonly action?: ElasticsearchAction;
  /** The document body; default the record itself (a Kafka record's `value`). Not used by `'delete'`. */
  readonly document?: (record: T) => object;
  /** When a bulk request is sent and how many may be in flight; see {@link BULK_DEFAULTS}. */
  readonly bulk?: Partial<BulkOptions>;
  /** Retries of 429s, 5xx and connection errors; see {@link RETRY_DEFAULTS}. */
  readonly retry?: Partial<RetryOptions>;
  /** Default none: a document that can never be indexed fails the job (nothing is dropped silently). */
  readonly deadLetter?: DeadLetterOptions<T>;
  /** Create `index` at start if it does not exist (needs a fixed `index`). */
  readonly createIndex?: CreateIndexOptions;
  /** Timeout of one HTTP request; a timed-out bulk is retried. Default 30,000 ms. */
  readonly requestTimeoutMs?: number;
}

/** The Elasticsearch sink's `bulk` options where a job leaves them out. */
export const BULK_DEFAULTS: BulkOptions = { maxActions: 1_000, maxBytes: 5 * 1024 * 1024, flushIntervalMs: 1_000, maxInFlight: 2 };
/** The Elasticsearch sink's `retry` options where a job leaves them out. */
export const RETRY_DEFAULTS: RetryOptions = { maxRetries: 8, initialBackoffMs: 100, maxBackoffMs: 10_000 };
/** The Elasticsearch sink's `requestTimeoutMs` when none is given: how long one bulk request may take. */
export const REQUEST_TIMEOUT_DEFAULT_MS = 30_000;

/** Options after validation, with every default applied. */
export interface ResolvedSinkOptions<T> {
  readonly nodes: readonly string[];
  readonly auth: ElasticsearchAuth | undefined;
  readonly index: string | undefined;
  readonly indexFn: ((record: T) => string) | undefined;
  readonly id: ((record: T) => string | number) | 'topic-partition-offset';
  readonly action: ElasticsearchAction;
  readonly document: ((record: T) => object) | undefined;
  readonly bulk: BulkOptions;
  readonly retry: RetryOptions;
  readonly deadLetter: DeadLetterOptions<T> | undefined;
  readonly createIndex: CreateIndexOptions | undefined;
  readonly requestTimeoutMs: number;
}

const TOP_LEVEL = new Set(['node', 'auth', 'index', 'indexFn', 'id', 'action', 'document', 'bulk', 'retry', 'deadLetter', 'createIndex', 'requestTimeoutMs']);
const ACTIONS: readonly string[] = ['index', 'create', 'upsert', 'delete'];

/** Checks every option up front and applies defaults; throws one SluiceError naming the first bad option. */
export function resolveSinkOptions<T>(options: ElasticsearchSinkOptions<T>): ResolvedSinkOptions<T> {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'an object', options);
  for (const key of Object.keys(options)) {
    if (!TOP_LEVEL.has(key)) throw invalid(key, `the options are ${[...TOP_LEVEL].join(', ')}`, undefined, 'is not an option');
  }
  const nodes = typeof options.node === 'string' ? [options.node] : options.node;
  if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every(isHttpUrl)) {
    throw invalid('node', 'an http(s) URL such as "http://127.0.0.1:9200", or a non-empty list of them', options.node);
  }
  if (options.auth !== undefined && !isAuth(options.auth)) {
    throw invalid('auth', '{ username, password }, { apiKey } or { bearer }', '(hidden)');
  }
  if ((options.index === undefined) === (options.indexFn === undefined)) {
    throw invalid('index', 'give exactly one of the two (a fixed index name, or a function of the record)', undefined, 'and "indexFn" are both missing or both given');
  }
  if (options.index !== undefined) {
    const problem = indexNameProblem(options.index);
    if (problem !== undefined) throw invalid('index', `a valid Elasticsearch index name (${problem})`, options.index);
  }
  if (options.indexFn !== undefined && typeof options.indexFn !== 'function') throw invalid('indexFn', 'a function (record) => index name', options.indexFn);
  if (options.id !== 'topic-partition-offset' && typeof options.id !== 'function') {
    throw invalid('id', `a function (record) => id or 'topic-partition-offset' (deterministic ids make replays overwrite instead of duplicate)`, options.id);
  }
  const action = options.action ?? 'index';
  if (!ACTIONS.includes(action)) throw invalid('action', `one of ${ACTIONS.map((a) => `'${a}'`).join(', ')}`, action);
  if (options.document !== undefined && typeof options.document !== 'function') throw invalid('document', 'a function (record) => object', options.document);
  if (options.document !== undefined && action === 'delete') throw invalid('document', "leave it out with action 'delete' (a delete has no body)", undefined, 'is given');
  const bulk = resolveGroup('bulk', options.bulk, BULK_DEFAULTS, {
    maxActions: positiveInteger,
    maxBytes: (v) => positiveInteger(v) && v >= 1024,
    flushIntervalMs: positiveInteger,
    maxInFlight: (v) => positiveInteger(v) && v <= 64,
  }, { maxActions: 'a positive integer', maxBytes: 'an integer ≥ 1024', flushIntervalMs: 'a positive integer (ms)', maxInFlight: 'an integer from 1 to 64' });
  const retry = resolveGroup('retry', options.retry, RETRY_DEFAULTS, {
    maxRetries: (v) => Number.isInteger(v) && v >= 0,
    initialBackoffMs: positiveInteger,
    maxBackoffMs: positiveInteger,
  }, { maxRetries: 'a non-negative integer', initialBackoffMs: 'a positive integer (ms)', maxBackoffMs: 'a positive integer (ms)' });
  if (retry.maxBackoffMs < retry.initialBackoffMs) {
    throw invalid('retry.maxBackoffMs', `at least retry.initialBackoffMs (${retry.initialBackoffMs})`, retry.maxBackoffMs);
  }
  const deadLetter = options.deadLetter;
  if (deadLetter !== undefined) validateDeadLetter(deadLetter, options.index);
  if (options.createIndex !== undefined) {
    if (options.index === undefined) throw invalid('createIndex', 'it needs a fixed "index" (with indexFn, create an index template in Elasticsearch instead)', undefined, 'is given with indexFn');
    if (typeof options.createIndex !== 'object' || options.createIndex === null) throw invalid('createIndex', '{ settings?, mappings? }', options.createIndex);
    for (const key of Object.keys(options.createIndex)) {
      if (key !== 'settings' && key !== 'mappings') throw invalid(`createIndex.${key}`, 'the options are settings, mappings', undefined, 'is not an option');
    }
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_DEFAULT_MS;
  if (!positiveInteger(requestTimeoutMs)) throw invalid('requestTimeoutMs', 'a positive integer (ms)', requestTimeoutMs);
  return {
    nodes: [...nodes],
    auth: options.auth,
    index: options.index,
    indexFn: options.indexFn,
    id: options.id,
    action,
    document: options.document,
    bulk,
    retry,
    deadLetter,
    createIndex: options.createIndex,
    requestTimeoutMs,
  };
}

function validateDeadLetter<T>(deadLetter: DeadLetterOptions<T>, index: string | undefined): void {
  if (typeof deadLetter !== 'object' || deadLetter === null) throw invalid('deadLetter', '{ index }, { sink } or { file }', deadLetter);
  const kinds = Object.keys(deadLetter);
  if (kinds.length !== 1 || !['index', 'sink', 'file'].includes(kinds[0] as string)) {
    throw invalid('deadLetter', 'exactly one of { index }, { sink } or { file }', `{ ${kinds.join(', ')} }`);
  }
  if ('index' in deadLetter) {
    const problem = indexNameProblem(deadLetter.index);
    if (problem !== undefined) throw invalid('deadLetter.index', `a valid Elasticsearch index name (${problem})`, deadLetter.index);
    if (deadLetter.index === index) throw invalid('deadLetter.index', 'different from the target index', deadLetter.index);
  } else if ('sink' in deadLetter) {
    const sink = deadLetter.sink as Partial<Sink<unknown>> | null;
    if (typeof sink !== 'object' || sink === null || typeof sink.createWriter !== 'function') throw invalid('deadLetter.sink', 'a Sink (with createWriter)', deadLetter.sink);
  } else if (typeof deadLetter.file !== 'string' || deadLetter.file === '') {
    throw invalid('deadLetter.file', 'a non-empty file path', deadLetter.file);
  }
}

function resolveGroup<G extends object>(
  group: string,
  given: Partial<G> | undefined,
  defaults: G,
  checks: { [K in keyof G]: (value: number) => boolean },
  expected: { [K in keyof G]: string },
): G {
  if (given === undefined) return defaults;
  if (typeof given !== 'object' || given === null) throw invalid(group, 'an object', given);
  const resolved: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [key, value] of Object.entries(given)) {
    if (!(key in defaults)) throw invalid(`${group}.${key}`, `the options are ${Object.keys(defaults).join(', ')}`, undefined, 'is not an option');
    if (value === undefined) continue;
    const check = checks[key as keyof G];
    if (typeof value !== 'number' || !check(value)) throw invalid(`${group}.${key}`, expected[key as keyof G], value);
    resolved[key] = value;
  }
  return resolved as G;
}

function positiveInteger(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function isAuth(auth: unknown): boolean {
  if (typeof auth !== 'object' || auth === null) return false;
  const a = auth as Record<string, unknown>;
  if (typeof a['username'] === 'string' && typeof a['password'] === 'string') return true;
  if (typeof a['bearer'] === 'string') return true;
  const apiKey = a['apiKey'];
  return typeof apiKey === 'string' || (typeof apiKey === 'object' && apiKey !== null && typeof (apiKey as Record<string, unknown>)['id'] === 'string');
}

/** Elasticsearch's index name rules (MetadataCreateIndexService.validateIndexOrAliasName), or undefined when valid. */
export function indexNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'must be a non-empty string';
  if (name !== name.toLowerCase()) return 'must be lowercase';
  if (/[\\/*?"<>| ,#:]/.test(name)) return 'must not contain \\ / * ? " < > | space , # :';
  if (/^[-_+]/.test(name)) return 'must not start with -, _ or +';
  if (name === '.' || name === '..') return 'must not be . or ..';
  if (Buffer.byteLength(name) > 255) return 'must be at most 255 bytes';
  return undefined;
}

function invalid(option: string, expected: string, got: unknown, verb = 'must be'): SluiceError {
  const shown = got === undefined ? '' : `, got ${describe(got)}`;
  const text = verb === 'must be' ? `must be ${expected}${shown}` : `${verb}: ${expected}`;
  return new SluiceError(ES_SINK_ERRORS.invalidOption, `elasticsearchSink option "${option}" ${text}`, { retriable: false });
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

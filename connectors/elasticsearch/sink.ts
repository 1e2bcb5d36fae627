import { Client } from '@elastic/elasticsearch';
import type { ConnectorMetric, Sink, SinkWriter, SinkWriterContext } from '../../runtime/api/index.ts';
import { SluiceError } from '../../runtime/errors/index.ts';
import type { TimerHandle } from '../../runtime/time/index.ts';
import { hasKafkaOrigin } from '../kafka/kafka-record.ts';
import { itemBytes, type BulkItem } from './bulk-item.ts';
import { BulkLane } from './bulk-lane.ts';
import { executeBulk, type BulkRequestContext, type RejectedItem } from './bulk-request.ts';
import { DEAD_LETTER_MAPPINGS, deadLetterEndpoints, openDeadLetters, toDeadLetter, type DeadLetterDestination, type WriterState } from './dead-letter.ts';
import { ensureIndex } from './ensure-index.ts';
import { ES_SINK_ERRORS } from './errors.ts';
import { indexNameProblem, resolveSinkOptions, type ElasticsearchSinkOptions, type ResolvedSinkOptions } from './options.ts';
import { SinkCounters, SinkTotals, type ElasticsearchSinkMetrics } from './sink-metrics.ts';

/** An Elasticsearch sink: a {@link Sink} whose counters can be read while the job runs. */
export interface ElasticsearchSink<T> extends Sink<T> {
  /**
   * Counters summed over this sink's writers in this thread (see {@link ElasticsearchSinkMetrics}). On worker threads
   * (`workers` ≥ 1) each worker builds its own sink from the job module and its writers count there: the sink object
   * the main thread holds then reads zeros. Prometheus (`/metrics`, docs/observability.md) has every writer's, on
   * any thread, as `sluice_elasticsearch_*` per subtask.
   */
  metrics(): ElasticsearchSinkMetrics;
}

/** Owner epoch e writes version e·2³²: a new owner's versions exceed any an earlier owner (or Elasticsearch itself) reached. */
const OWNER_EPOCH_VERSION_STEP = 2 ** 32;

/**
 * Writes records to Elasticsearch with bulk requests, effectively exactly once: on every checkpoint barrier the
 * writer sends what it buffered and waits for every bulk request in flight, retries included, before the checkpoint
 * may complete, so a restored job replays only records whose actions may not have been written, and deterministic
 * document ids make those replays overwrite instead of duplicate. 429s, 5xx and connection errors are retried with
 * exponential backoff and full jitter; when retries run out the job fails over. Documents Elasticsearch can never
 * accept go to the dead-letter destination, or fail the job when there is none. A slow cluster slows the source:
 * buffered bytes are bounded. See docs/connectors/elasticsearch.md.
 *
 * @example
 * ```ts
 * clicks
 *   .keyBy((c) => c.user)
 *   .reduce((a, b) => ({ user: a.user, clicks: a.clicks + b.clicks }))
 *   .sink(elasticsearchSink({ node: 'http://127.0.0.1:9200', index: 'user-clicks', id: (u) => u.user }));
 * ```
 */
export function elasticsearchSink<T>(options: ElasticsearchSinkOptions<T>): ElasticsearchSink<T> {
  const resolved = resolveSinkOptions(options);
  const totals = new SinkTotals();
  return {
    name: 'elasticsearch',
    endpoints: [{ system: 'elasticsearch', nodes: resolved.nodes }, ...deadLetterEndpoints(resolved.deadLetter)],
    createWriter: (context) => new ElasticsearchWriter<T>(resolved, context, totals),
    metrics: () => totals.snapshot(),
  };
}

class ElasticsearchWriter<T> implements SinkWriter<T> {
  readonly #options: ResolvedSinkOptions<T>;
  readonly #context: SinkWriterContext;
  readonly #counters: SinkCounters;
  readonly #totals: SinkTotals;
  readonly #lanes: BulkLane<T>[];
  /** Aborts in-flight requests and backoff waits on close. */
  readonly #abort = new AbortController();
  readonly #node: string;
  readonly #checkedIndices = new Set<string>();
  #client: Client | undefined;
  #bulkContext: BulkRequestContext | undefined;
  #deadLetters: DeadLetterDestination<T> | undefined;
  #failure: unknown;
  #timer: TimerHandle | undefined;
  #closed = false;

  /** Cluster mode: the external version of every index and delete action (see BulkItem.version). */
  readonly #version: number | undefined;

  constructor(options: ResolvedSinkOptions<T>, context: SinkWriterContext, totals: SinkTotals) {
    this.#options = options;
    this.#context = context;
    this.#totals = totals;
    const counters = totals.open();
    this.#counters = counters;
    this.#node = options.nodes.map(withoutCredentials).join(',');
    this.#lanes = Array.from({ length: options.bulk.maxInFlight }, () => new BulkLane<T>(options.bulk, counters, (items) => this.#send(items)));
    if (options.index !== undefined) this.#checkedIndices.add(options.index);
    // Above every internal version a document could have reached, and higher for every new owner of the job.
    this.#version = context.ownerEpoch === undefined ? undefined : context.ownerEpoch * OWNER_EPOCH_VERSION_STEP;
    if (this.#version !== undefined && (options.action === 'upsert' || options.action === 'create') && context.subtask === 0) {
      context.logger.warn({ action: options.action }, `elasticsearchSink: "${options.action}" actions cannot be fenced in cluster mode (Elasticsearch has no external versions for them); use action "index" so a member that lost the job cannot overwrite its new owner's documents`);
    }
  }

  async start(): Promise<void> {
    const options = this.#options;
    this.#client = new Client({
      nodes: [...options.nodes],
      ...(options.auth === undefined ? {} : { auth: options.auth as never }),
      // The sink retries itself (with backoff, and per item); the transport's immediate retries would only add load.
      maxRetries: 0,
      requestTimeout: options.requestTimeoutMs,
    });
    this.#bulkContext = {
      client: this.#client,
      node: this.#node,
      retry: options.retry,
      requestTimeoutMs: options.requestTimeoutMs,
      clock: this.#context.clock,
      signal: this.#abort.signal,
      logger: this.#context.logger,
      counters: this.#counters,
      random: Math.random,
    };
    if (options.createIndex !== undefined && options.index !== undefined) await ensureIndex(options.index, options.createIndex, this.#bulkContext);
    const deadLetter = options.deadLetter;
    if (deadLetter !== undefined) {
      if ('index' in deadLetter) await ensureIndex(deadLetter.index, { mappings: DEAD_LETTER_MAPPINGS }, this.#bulkContext);
      // Dead letters written to an index do not count as the sink's own acknowledged actions.
      const deadLetterBulk: BulkRequestContext = { ...this.#bulkContext, counters: new SinkCounters() };
      this.#deadLetters = openDeadLetters(deadLetter, this.#context, deadLetterBulk);
      await this.#deadLetters.start();
    }
    this.#armTimer();
  }

  write(records: readonly T[]): Promise<void> | undefined {
    this.#throwIfFailed();
    const blocked = this.#append(records, 0);
    return blocked === undefined ? undefined : this.#appendWhenRoom(records, blocked);
  }

  async preCommit(checkpointId: number): Promise<WriterState | undefined> {
    await this.#drain();
    if (this.#deadLetters === undefined) return undefined;
    return { deadLetter: await this.#deadLetters.preCommit(checkpointId) };
  }

  async commit(checkpointId: number): Promise<void> {
    await this.#deadLetters?.commit(checkpointId);
  }

  async finish(): Promise<void> {
    await this.#drain();
    await this.#deadLetters?.finish();
  }

  async close(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#context.clock.clearTimeout(this.#timer);
    // Whatever is still buffered or in flight was not acknowledged: the replay from the checkpoint brings it back.
    this.#abort.abort(new SluiceError('SLUICE_CANCELLED', 'the Elasticsearch sink was closed'));
    for (const lane of this.#lanes) lane.discard();
    await Promise.all(this.#lanes.map((lane) => lane.idle()));
    await Promise.allSettled([this.#client?.close(), this.#deadLetters?.close(outcome)]);
    this.#totals.retire(this.#counters);
  }

  metrics(): ConnectorMetric[] {
    return this.#counters.prometheus();
  }

  /** Buffers records from `from` on; returns where it had to stop because a full lane is still sending. */
  #append(records: readonly T[], from: number): { lane: BulkLane<T>; next: number } | undefined {
    const lanes = this.#lanes;
    for (let i = from; i < records.length; i++) {
      const item = this.#toItem(records[i] as T);
      const lane = lanes.length === 1 ? (lanes[0] as BulkLane<T>) : (lanes[laneOf(item.id, lanes.length)] as BulkLane<T>);
      lane.add(item);
      this.#counters.records += 1;
      if (lane.full) {
        if (lane.busy) return { lane, next: i + 1 };
        lane.dispatch();
      }
    }
    return undefined;
  }

  /** Backpressure: a full lane waits for its request to finish before taking more, so memory stays bounded. */
  async #appendWhenRoom(records: readonly T[], blocked: { lane: BulkLane<T>; next: number }): Promise<void> {
    let wait: { lane: BulkLane<T>; next: number } | undefined = blocked;
    while (wait !== undefined) {
      await wait.lane.idle();
      this.#throwIfFailed();
      wait.lane.dispatch();
      wait = this.#append(records, wait.next);
    }
  }

  /** Sends everything buffered and waits until nothing is in flight; throws the first failure. */
  async #drain(): Promise<void> {
    for (;;) {
      this.#throwIfFailed();
      for (const lane of this.#lanes) lane.dispatch();
      if (this.#lanes.every((lane) => !lane.busy)) break;
      await Promise.all(this.#lanes.map((lane) => lane.idle()));
    }
    this.#throwIfFailed();
  }

  async #send(items: BulkItem<T>[]): Promise<void> {
    if (this.#failure !== undefined || this.#bulkContext === undefined) return;
    try {
      const rejected = await executeBulk(items, this.#bulkContext);
      if (rejected.length > 0) await this.#deadLetter(rejected);
    } catch (err) {
      this.#failure ??= err;
    }
  }

  async #deadLetter(rejected: RejectedItem<T>[]): Promise<void> {
    const first = rejected[0] as RejectedItem<T>;
    const example = `index "${first.item.index}" id "${first.item.id}": ${first.status} ${first.type}: ${first.reason}`;
    if (this.#deadLetters === undefined) {
      throw new SluiceError(
        ES_SINK_ERRORS.documentRejected,
        `Elasticsearch refused ${rejected.length} document(s) for good, e.g. ${example}. No deadLetter destination is configured, ` +
          'so the job fails rather than drop them: fix the documents or the index mapping, or set the sink\'s deadLetter ' +
          'option ({ index }, { file } or { sink }) to set such documents aside.',
        { retriable: false },
      );
    }
    const now = this.#context.clock.now();
    await this.#deadLetters.write(rejected.map((r) => toDeadLetter(r, this.#context, now)));
    this.#counters.deadLetters += rejected.length;
    this.#context.logger.warn({ count: rejected.length, example }, 'elasticsearch refused documents; sent to the dead-letter destination');
  }

  #toItem(input: T): BulkItem<T> {
    const options = this.#options;
    const record = options.deadLetter === undefined ? undefined : input;
    const index = options.index ?? this.#indexOf(input);
    const id = this.#idOf(input);
    const version = this.#version;
    if (options.action === 'delete') return { index, id, action: 'delete', source: undefined, record, bytes: itemBytes('delete', index, id, undefined, version), ...(version === undefined ? {} : { version }) };
    let source: string | undefined;
    try {
      const document = options.document === undefined ? defaultDocument(input) : options.document(input);
      if (typeof document !== 'object' || document === null || Array.isArray(document)) {
        throw new Error(`the document must be a JSON object, got ${Array.isArray(document) ? 'an array' : typeof document}`);
      }
      source = JSON.stringify(document);
    } catch (err) {
      throw badRecord(`cannot build the document of id "${id}" for index "${index}": ${(err as Error).message}`, err);
    }
    const fenced = options.action === 'index' ? version : undefined;
    return { index, id, action: options.action, source, record, bytes: itemBytes(options.action, index, id, source, fenced), ...(fenced === undefined ? {} : { version: fenced }) };
  }

  #indexOf(record: T): string {
    let index: unknown;
    try {
      index = (this.#options.indexFn as (record: T) => string)(record);
    } catch (err) {
      throw badRecord(`indexFn threw: ${(err as Error).message}`, err);
    }
    if (typeof index === 'string' && this.#checkedIndices.has(index)) return index;
    const problem = indexNameProblem(index);
    if (problem !== undefined) throw badRecord(`indexFn returned ${JSON.stringify(index)}, which is not a valid index name (${problem})`);
    this.#checkedIndices.add(index as string);
    return index as string;
  }

  #idOf(record: T): string {
    const idOption = this.#options.id;
    if (idOption === 'topic-partition-offset') {
      if (!hasKafkaOrigin(record)) {
        throw badRecord("id 'topic-partition-offset' needs records with topic, partition and offset (a KafkaRecord, or keep those fields when mapping); use an id function for other records");
      }
      return `${record.topic}-${record.partition}-${record.offset}`;
    }
    let id: unknown;
    try {
      id = idOption(record);
    } catch (err) {
      throw badRecord(`the id function threw: ${(err as Error).message}`, err);
    }
    if (typeof id === 'number' && Number.isFinite(id)) return String(id);
    if (typeof id !== 'string' || id === '' || Buffer.byteLength(id) > 512) {
      throw badRecord(`the id function returned ${JSON.stringify(id) ?? String(id)}; ids must be non-empty strings of at most 512 bytes, or finite numbers`);
    }
    return id;
  }

  #armTimer(): void {
    if (this.#closed) return;
    this.#timer = this.#context.clock.setTimeout(() => {
      // Only idle lanes: a busy lane sends its buffer as soon as its request is done, or when it fills up.
      if (this.#failure === undefined) for (const lane of this.#lanes) if (!lane.busy) lane.dispatch();
      this.#armTimer();
    }, this.#options.bulk.flushIntervalMs);
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}

/** A Kafka record's document is its value; any other record is its own document. */
function defaultDocument(record: unknown): unknown {
  return hasKafkaOrigin(record) && 'value' in record && 'headers' in record ? record.value : record;
}

/** FNV-1a of the id: spreads documents over lanes, the same id always to the same lane. */
function laneOf(id: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}

function withoutCredentials(node: string): string {
  const url = new URL(node);
  url.username = '';
  url.password = '';
  return url.toString().replace(/\/$/, '');
}

function badRecord(message: string, cause?: unknown): SluiceError {
  // The same record fails the same way on every replay: fail the job rather than restart forever.
  return new SluiceError(ES_SINK_ERRORS.badRecord, `elasticsearchSink: ${message}`, cause === undefined ? { retriable: false } : { cause, retriable: false });
}

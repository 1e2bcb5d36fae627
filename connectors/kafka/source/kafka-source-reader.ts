import { randomUUID } from 'node:crypto';
import { Kafka, type Admin, type Batch } from 'kafkajs';
import type { SourceReader, SourceReaderContext, SplitLag, SplitPosition } from '../../../runtime/api/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import type { TimerHandle } from '../../../runtime/time/index.ts';
import type { KafkaRecord } from '../kafka-record.ts';
import { javaStringHash, kafkaSplitId, kafkaSplitOwner } from '../split-owner.ts';
import { AssignedConsumer } from './assigned-consumer.ts';
import { DeadLetterWriter, type DeadLetter } from './dead-letter.ts';
import { deserializerFor, type RawKafkaRecord, type ValueDeserializer } from './deserializer.ts';
import { KafkaSourceErrorCode, wrapKafkaError } from './errors.ts';
import { FetchBuffer, type FetchedChunk } from './fetch-buffer.ts';
import { FetchTap } from './fetch-tap.ts';
import { GroupOffsetCommitter, type GroupOffsets } from './group-offset-committer.ts';
import { createSourceKafkaClient } from './kafka-client.ts';
import type { ResolvedKafkaSourceOptions, StartFrom } from './options.ts';
import { fetchWatermarks, resolveStartOffsets } from './start-offsets.ts';
import { fetchPartitionCounts } from './topic-metadata.ts';
import { CommittedRecordFilter, type FetchedRecordInfo } from './transaction-filter.ts';

/** One owned partition. */
interface SplitState {
  readonly id: string;
  readonly topic: string;
  readonly partition: number;
  /** Next offset after what `poll()` handed out: the checkpointed position. */
  position: number;
  /** Next offset after what is in the buffer: where a (re)started consumer continues. */
  fetchedUpTo: number;
  /** Last high watermark kafkajs reported for the partition. */
  highWatermark: number;
}

/** Estimated heap bytes of a record beyond its key and value bytes (object, offset, headers object). */
const RECORD_OVERHEAD_BYTES = 96;
const EMPTY_HEADERS: Readonly<Record<string, Buffer | undefined>> = Object.freeze({});
/** What built-in deserializers get as their (unused) record argument. */
const NO_CONTEXT: RawKafkaRecord = Object.freeze({ topic: '', partition: -1, offset: -1, key: null, timestamp: 0, headers: EMPTY_HEADERS });

/**
 * Reads the partitions one source subtask owns. See docs/connectors/kafka.md for the design; in short: the owned
 * splits are computed with {@link kafkaSplitOwner} from topic metadata the reader polls itself, an
 * {@link AssignedConsumer} fetches exactly those from exactly the checkpointed offsets, fetched batches are decoded
 * in kafkajs's `eachBatch` callback and pushed into a bounded {@link FetchBuffer} that the synchronous `poll()`
 * drains. With read_committed (the default) the reader drops records of aborted transactions itself
 * ({@link CommittedRecordFilter}); kafkajs's own filter is switched off ({@link FetchTap}).
 */
export class KafkaSourceReader<V> implements SourceReader<KafkaRecord<V>> {
  readonly #options: ResolvedKafkaSourceOptions<V>;
  readonly #context: SourceReaderContext;
  readonly #attempt: number;
  readonly #groupId: string;
  readonly #deserialize: ValueDeserializer<V>;
  readonly #buffer: FetchBuffer<KafkaRecord<V>>;
  readonly #splits = new Map<string, SplitState>();
  #kafka: Kafka | undefined;
  /** Aborted-transaction lists of the consumer's read_committed fetches; undefined with `readUncommitted`. */
  #fetchTap: FetchTap | undefined;
  #admin: Admin | undefined;
  #consumer: AssignedConsumer | undefined;
  /** Incremented on every consumer (re)start and on close: callbacks of an older consumer stop pushing. */
  #generation = 0;
  #deadLetters: DeadLetterWriter | undefined;
  #committer: GroupOffsetCommitter | undefined;
  /** Partition counts as of the last discovery. */
  #known = new Map<string, number>();
  #discoveryTimer: TimerHandle | undefined;
  #discovering: Promise<void> | undefined;
  /** Positions handed to the last checkpoint barrier, committed to the group when that checkpoint completes. */
  #barrierPositions: SplitPosition[] | undefined;
  #failure: Error | undefined;
  #closed = false;

  constructor(options: ResolvedKafkaSourceOptions<V>, context: SourceReaderContext, attempt: number) {
    this.#options = options;
    this.#context = context;
    this.#attempt = attempt;
    this.#groupId = options.groupId ?? `sluice-${context.job}`;
    this.#deserialize = deserializerFor(options.format);
    this.#buffer = new FetchBuffer(options.bufferBytes);
  }

  /** Records and estimated bytes fetched but not yet handed out (for tests and metrics). */
  get buffered(): { readonly records: number; readonly bytes: number } {
    return { records: this.#buffer.records, bytes: this.#buffer.bytes };
  }

  /** Ids of the splits this reader owns now. */
  get splits(): string[] {
    return [...this.#splits.keys()];
  }

  async start(): Promise<void> {
    const o = this.#options;
    const logger = this.#context.logger;
    const kafka = createSourceKafkaClient(o as ResolvedKafkaSourceOptions<unknown>, logger);
    this.#kafka = kafka;
    // read_committed filtering is ours, not kafkajs's: see FetchTap and CommittedRecordFilter.
    if (!o.readUncommitted) this.#fetchTap = FetchTap.install(kafka);
    const policy = o.onDeserializationError;
    if (typeof policy === 'object') {
      this.#deadLetters = new DeadLetterWriter(policy.deadLetter, this.#context, this.#attempt);
      await this.#deadLetters.start();
    }
    try {
      const admin = await this.#connectAdmin();
      this.#known = await fetchPartitionCounts(admin, o, true);
      await this.#addSplits(this.#ownedOf(this.#known), 'initial');
      if (this.#splits.size > 0) await this.#startConsumer();
    } catch (err) {
      throw wrapKafkaError(err, `starting the source of job "${this.#context.job}"`, o.brokers);
    }
    const subtask = this.#context.subtask;
    const source = o.topics?.join(',') ?? `/${o.topicPattern?.source}/`;
    this.#committer = new GroupOffsetCommitter(
      kafka,
      this.#groupId,
      `${this.#groupId}.offsets.${(javaStringHash(source) >>> 0).toString(16)}.${subtask}`,
      logger,
    );
    logger.debug({ splits: this.splits, groupId: this.#groupId }, `Kafka source subtask ${subtask} reads ${this.#splits.size} partition(s)`);
    this.#scheduleDiscovery();
  }

  poll(): readonly KafkaRecord<V>[] | null {
    if (this.#failure !== undefined) throw this.#failure;
    for (;;) {
      const chunk = this.#buffer.shift();
      if (chunk === undefined) return null;
      if (chunk.failure !== undefined) {
        this.#failure = chunk.failure;
        throw chunk.failure;
      }
      const split = this.#splits.get(chunk.split);
      // A chunk of a split dropped since (its topic was deleted) is discarded.
      if (split === undefined) continue;
      split.position = chunk.next;
      if (chunk.records.length > 0) return chunk.records;
    }
  }

  available(): Promise<void> {
    if (this.#failure !== undefined) return Promise.resolve();
    return this.#buffer.available();
  }

  positions(): SplitPosition[] {
    const positions: SplitPosition[] = [];
    for (const split of this.#splits.values()) positions.push({ split: split.id, position: split.position });
    // positions() is called at the checkpoint barrier; completion of that checkpoint commits exactly these.
    this.#barrierPositions = positions;
    return positions;
  }

  lag(): SplitLag[] {
    return [...this.#splits.values()].map((s) => ({ split: s.id, lag: Math.max(0, s.highWatermark - s.position) }));
  }

  async notifyCheckpointComplete(): Promise<void> {
    const positions = this.#barrierPositions;
    this.#barrierPositions = undefined;
    if (positions === undefined || this.#committer === undefined) return;
    const offsets = new Map<string, Map<number, number>>();
    for (const { split: id, position } of positions) {
      const split = this.#splits.get(id);
      if (split === undefined) continue;
      let byPartition = offsets.get(split.topic);
      if (byPartition === undefined) offsets.set(split.topic, (byPartition = new Map()));
      byPartition.set(split.partition, position as number);
    }
    this.#committer.commit(offsets as GroupOffsets);
  }

  /** Resolves when the lag commits scheduled so far are done (for tests). */
  async committedToGroup(): Promise<void> {
    await this.#committer?.idle();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    if (this.#discoveryTimer !== undefined) this.#context.clock.clearTimeout(this.#discoveryTimer);
    this.#buffer.wakeAll();
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown> | undefined): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    await attempt(() => this.#consumer?.stop());
    this.#consumer = undefined;
    await attempt(() => this.#discovering);
    await attempt(() => this.#committer?.close());
    await attempt(() => this.#admin?.disconnect());
    this.#admin = undefined;
    await attempt(() => this.#deadLetters?.close(this.#context.signal.aborted ? 'failed' : 'finished'));
    if (errors.length > 0) this.#context.logger.debug({ err: errors[0] }, 'errors while closing the Kafka source');
  }

  // ---- splits -------------------------------------------------------------------------------------------------

  /** Splits of `counts` this subtask owns, grouped by topic. */
  #ownedOf(counts: ReadonlyMap<string, number>, from: ReadonlyMap<string, number> = new Map()): Map<string, number[]> {
    const { subtask, parallelism } = this.#context;
    const owned = new Map<string, number[]>();
    for (const [topic, count] of counts) {
      const partitions: number[] = [];
      for (let p = from.get(topic) ?? 0; p < count; p++) if (kafkaSplitOwner(topic, p, parallelism) === subtask) partitions.push(p);
      if (partitions.length > 0) owned.set(topic, partitions);
    }
    return owned;
  }

  /**
   * Adds owned splits with their start offsets. At the start of an attempt a split starts at its checkpointed
   * position; one absent from the checkpoint starts per `startFrom` on a fresh start, and from the earliest offset
   * when restoring (it appeared after the job started, so `startFrom` — meant for the job's first start — could skip
   * its first records). Splits discovered while running also start from the earliest offset.
   */
  async #addSplits(owned: ReadonlyMap<string, readonly number[]>, why: 'initial' | 'discovered'): Promise<void> {
    const admin = await this.#connectAdmin();
    const restored = this.#context.restoredPositions;
    const override = this.#context.startOverride;
    for (const [topic, partitions] of owned) {
      const watermarks = await fetchWatermarks(admin, topic);
      const unpositioned = partitions.filter((p) => override !== undefined || why === 'discovered' || typeof restored?.get(kafkaSplitId(topic, p)) !== 'number');
      const startFrom: StartFrom = override ?? (why === 'discovered' || restored !== undefined ? 'earliest' : this.#options.startFrom);
      const starts = await resolveStartOffsets(admin, topic, unpositioned, startFrom, this.#groupId, watermarks);
      for (const partition of partitions) {
        const id = kafkaSplitId(topic, partition);
        const start = starts.get(partition) ?? (restored?.get(id) as number);
        const high = watermarks.get(partition)?.high ?? start;
        this.#splits.set(id, { id, topic, partition, position: start, fetchedUpTo: start, highWatermark: high });
      }
    }
  }

  // ---- fetching -----------------------------------------------------------------------------------------------

  async #startConsumer(): Promise<void> {
    const o = this.#options;
    const generation = ++this.#generation;
    const assignment = new Map<string, number[]>();
    for (const split of this.#splits.values()) {
      const partitions = assignment.get(split.topic) ?? [];
      partitions.push(split.partition);
      assignment.set(split.topic, partitions);
    }
    const consumer = new AssignedConsumer({
      kafka: this.#kafka as Kafka,
      // Private to this subtask and this consumer start: see AssignedConsumer for why.
      groupId: `${this.#groupId}.reader.${this.#context.subtask}.${randomUUID().slice(0, 13)}`,
      assignment,
      nextOffset: (topic, partition) => this.#splits.get(kafkaSplitId(topic, partition))?.fetchedUpTo ?? 0,
      onBatch: (batch, heartbeat) => this.#onBatch(batch, heartbeat, generation),
      onCrash: (error) => {
        if (generation === this.#generation && !this.#closed) this.#fail(wrapKafkaError(error, 'fetching records', o.brokers));
      },
      sessionTimeoutMs: o.sessionTimeoutMs,
      maxWaitMs: o.maxWaitMs,
      minBytes: o.minBytes,
      maxBytes: o.maxBytes,
      maxBytesPerPartition: o.maxBytesPerPartition,
      readUncommitted: o.readUncommitted,
      retry: { retries: o.retries, initialRetryTime: o.initialRetryTimeMs, maxRetryTime: o.maxRetryTimeMs },
    });
    this.#consumer = consumer;
    await consumer.start();
  }

  async #restartConsumer(): Promise<void> {
    const old = this.#consumer;
    this.#consumer = undefined;
    this.#generation++;
    // Unblocks an eachBatch of the old consumer waiting for room; it sees the new generation and returns.
    this.#buffer.wakeAll();
    await old?.stop();
    if (!this.#closed && this.#splits.size > 0) await this.#startConsumer();
  }

  /**
   * kafkajs's eachBatch: decodes the batch into chunks of at most `maxBatchRecords`, waiting for buffer room before
   * each push (this wait is the backpressure on fetching). Records below the split's fetch position are dropped, so
   * a batch kafkajs returns from an earlier offset (whole record batches, a rejoin) never duplicates anything.
   */
  async #onBatch(batch: Batch, heartbeat: () => Promise<void>, generation: number): Promise<void> {
    const split = this.#splits.get(kafkaSplitId(batch.topic, batch.partition));
    if (split === undefined || generation !== this.#generation) return;
    const high = Number(batch.highWatermark);
    if (high > split.highWatermark) split.highWatermark = high;
    const { topic, partition } = split;
    const maxRecords = this.#options.maxBatchRecords;
    const deserialize = this.#deserialize;
    const custom = typeof this.#options.format === 'function';
    const policy = this.#options.onDeserializationError;
    // read_committed: every fetched record, control records included, filtered here (kafkajs's filter is wrong for
    // interleaved transactions). read_uncommitted: kafkajs's list, which then only lacks the control records.
    const tap = this.#fetchTap;
    const committed = tap === undefined ? undefined : new CommittedRecordFilter(tap.abortedTransactionsOf(batch));
    const messages = committed === undefined ? batch.messages : (batch as unknown as { messagesWithinOffset: Batch['messages'] }).messagesWithinOffset;
    let records: KafkaRecord<V>[] = [];
    let bytes = 0;
    let covered = -1;
    let deadLetters: DeadLetter[] = [];
    const flush = async (failure?: Error): Promise<boolean> => {
      const news = records.length > 0 || covered > split.fetchedUpTo || deadLetters.length > 0;
      if (!news && failure === undefined) return true;
      if (!(await this.#awaitRoom(heartbeat, generation))) return false;
      if (deadLetters.length > 0) {
        // Committed before the position passes the poison records: a checkpoint never covers an undelivered one.
        try {
          await this.#deadLetters?.deliver(deadLetters);
        } catch (err) {
          this.#fail(new SluiceError(KafkaSourceErrorCode.deadLetter, `the dead-letter sink failed to take ${deadLetters.length} record(s) of ${topic}-${partition}: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
          return false;
        }
        deadLetters = [];
        if (generation !== this.#generation) return false;
      }
      // A failure chunk does not advance the position: the poison record stays unread.
      const next = failure === undefined ? Math.max(covered, split.fetchedUpTo) : split.fetchedUpTo;
      this.#buffer.push({ split: split.id, records, next, bytes, ...(failure === undefined ? {} : { failure }) } satisfies FetchedChunk<KafkaRecord<V>>);
      split.fetchedUpTo = next;
      records = [];
      bytes = 0;
      return true;
    };
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as Batch['messages'][number];
      const offset = Number(message.offset);
      if (committed !== undefined && !committed.isVisible(message as unknown as FetchedRecordInfo)) {
        // Aborted records and transaction markers: the position moves past them, nothing is delivered.
        if (offset >= split.fetchedUpTo) covered = offset + 1;
        continue;
      }
      if (offset < split.fetchedUpTo) continue;
      const key = message.key;
      const headers = (message.headers ?? EMPTY_HEADERS) as Readonly<Record<string, Buffer | undefined>>;
      const timestamp = Number(message.timestamp);
      let value: V;
      try {
        // Built-in formats look at the value only: no per-record context object for them (one allocation less per
        // record on the hot path).
        value = custom ? deserialize(message.value, { topic, partition, offset, key, timestamp, headers }) : deserialize(message.value, NO_CONTEXT);
      } catch (err) {
        const reason = (err as Error)?.message ?? String(err);
        if (policy === 'fail') {
          const failure = new SluiceError(
            KafkaSourceErrorCode.deserialization,
            `record ${topic}/${partition}/${offset} (topic/partition/offset) could not be deserialized as ${typeof this.#options.format === 'function' ? 'by the source\'s deserializer' : this.#options.format}: ${reason}. ` +
              "Fix the producer, or set onDeserializationError to 'skip' or { deadLetter: sink } to set such records aside",
            { cause: err },
          );
          if (await flush()) await flush(failure);
          return;
        }
        covered = offset + 1;
        if (policy !== 'skip') deadLetters.push({ topic, partition, offset, key, value: message.value, timestamp, headers, reason });
        continue;
      }
      records.push({ topic, partition, offset, key, value, timestamp, headers });
      bytes += RECORD_OVERHEAD_BYTES + (message.value?.length ?? 0) + (key?.length ?? 0);
      covered = offset + 1;
      if (records.length >= maxRecords && !(await flush())) return;
    }
    await flush();
  }

  /** Waits for buffer room, heartbeating the private group meanwhile; false when this consumer is obsolete. */
  async #awaitRoom(heartbeat: () => Promise<void>, generation: number): Promise<boolean> {
    while (!this.#buffer.hasRoom()) {
      if (generation !== this.#generation) return false;
      let timer: TimerHandle | undefined;
      await Promise.race([
        this.#buffer.waitForRoom(),
        new Promise<void>((resolve) => (timer = this.#context.clock.setTimeout(resolve, 1_000))),
      ]);
      if (timer !== undefined) this.#context.clock.clearTimeout(timer);
      if (generation !== this.#generation) return false;
      // A pipeline blocked for longer than the session timeout must not cost the group membership.
      await heartbeat();
    }
    return generation === this.#generation;
  }

  #fail(error: Error): void {
    if (this.#failure !== undefined || this.#closed) return;
    this.#failure = error;
    this.#buffer.wakeAll();
  }

  // ---- discovery ----------------------------------------------------------------------------------------------

  async #connectAdmin(): Promise<Admin> {
    if (this.#admin === undefined) {
      const admin = (this.#kafka as Kafka).admin();
      await admin.connect();
      this.#admin = admin;
    }
    return this.#admin;
  }

  #scheduleDiscovery(): void {
    if (this.#closed) return;
    this.#discoveryTimer = this.#context.clock.setTimeout(() => {
      this.#discoveryTimer = undefined;
      this.#discovering = this.#discover()
        .catch((err: unknown) => this.#fail(wrapKafkaError(err, 'polling topic metadata for new partitions', this.#options.brokers)))
        .finally(() => {
          this.#discovering = undefined;
          this.#scheduleDiscovery();
        });
    }, this.#options.discoveryIntervalMs);
  }

  /** One discovery round: compare partition counts with the last ones and apply the difference. */
  async #discover(): Promise<void> {
    if (this.#closed || this.#failure !== undefined) return;
    const counts = await fetchPartitionCounts(await this.#connectAdmin(), this.#options, false);
    if (this.#closed) return;
    const previous = this.#known;
    const added: string[] = [];
    const removed: string[] = [];
    for (const [topic, count] of counts) for (let p = previous.get(topic) ?? 0; p < count; p++) added.push(kafkaSplitId(topic, p));
    const removedTopics = [...previous.keys()].filter((t) => !counts.has(t));
    for (const topic of removedTopics) for (let p = 0; p < (previous.get(topic) ?? 0); p++) removed.push(kafkaSplitId(topic, p));
    if (added.length === 0 && removed.length === 0) return;
    this.#known = counts;
    let total = 0;
    for (const count of counts.values()) total += count;
    this.#context.reportSplitsChanged({ splits: total, added, removed });

    let changed = false;
    for (const topic of removedTopics) {
      const dropped = [...this.#splits.values()].filter((s) => s.topic === topic);
      for (const split of dropped) this.#splits.delete(split.id);
      if (dropped.length > 0) changed = true;
      // Every subtask sees the deletion; the owner of the topic's partition 0 reports it, so the job logs it once.
      const count = previous.get(topic) ?? 0;
      const reporter = kafkaSplitOwner(topic, 0, this.#context.parallelism) === this.#context.subtask;
      this.#context.logger[reporter ? 'warn' : 'debug'](
        { topic, partitions: count, droppedHere: dropped.map((s) => s.partition) },
        `Kafka topic "${topic}" no longer exists; the source stops reading its ${count} partition(s) and goes on with the others`,
      );
    }
    if (removedTopics.length > 0) {
      // kafkajs keeps asking for metadata of every topic it was once asked about; a deleted one would fail those requests.
      await this.#admin?.disconnect().catch(() => undefined);
      this.#admin = undefined;
    }
    const owned = this.#ownedOf(counts, previous);
    if (owned.size > 0) {
      await this.#addSplits(owned, 'discovered');
      changed = true;
      this.#context.logger.info({ added: [...owned].flatMap(([t, ps]) => ps.map((p) => kafkaSplitId(t, p))) }, 'Kafka source reads newly discovered partitions from the earliest offset');
    }
    if (changed && !this.#closed) await this.#restartConsumer();
  }
}

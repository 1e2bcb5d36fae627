import type { Admin, Kafka } from 'kafkajs';
import type { SourceReader, SourceReaderContext, SplitLag, SplitPosition } from '../../../runtime/api/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import { createKafkajsCluster } from '../../../runtime/kafkajs/kafkajs-cluster.ts';
import type { KafkaRecord } from '../kafka-record.ts';
import { javaStringHash, kafkaSplitId } from '../split-owner.ts';
import { DeadLetterWriter, type DeadLetter } from './dead-letter.ts';
import { deserializerFor } from './deserializer.ts';
import { decodePartition, type DecodingOptions, type SplitState } from './partition-decoder.ts';
import { KafkaSourceErrorCode, wrapKafkaError } from './errors.ts';
import { FetchBuffer } from './fetch-buffer.ts';
import type { FetchedPartition } from './fetch/fetch-response.ts';
import type { InternalCluster } from './fetch/kafkajs-fetch.ts';
import { SplitFetcher } from './fetch/split-fetcher.ts';
import { GroupOffsetCommitter, type GroupOffsets } from './group-offset-committer.ts';
import { createSourceKafkaClient } from './kafka-client.ts';
import type { ResolvedKafkaSourceOptions, StartFrom } from './options.ts';
import { ownedPartitions, PartitionDiscovery } from './partition-discovery.ts';
import { PausedSplits } from './paused-splits.ts';
import { fetchWatermarks, resolveStartOffsets } from './start-offsets.ts';
import { fetchPartitionCounts } from './topic-metadata.ts';

/** kafkajs's ISOLATION_LEVEL values; the fetcher sets the level of its fetches itself, this is the cluster's default. */
const READ_UNCOMMITTED = 0;
const READ_COMMITTED = 1;

/**
 * Reads the partitions one source subtask owns. See docs/connectors/kafka.md for the design; in short: the owned
 * splits are computed with {@link kafkaSplitOwner} from topic metadata the reader polls itself, a
 * {@link SplitFetcher} fetches exactly those from exactly the checkpointed offsets (no consumer group), each fetched
 * partition is decoded in place (partition-decoder.ts) and pushed in chunks into a bounded {@link FetchBuffer}
 * that the synchronous `poll()` drains. With read_committed (the default) the reader drops the batches of aborted
 * transactions itself.
 */
export class KafkaSourceReader<V> implements SourceReader<KafkaRecord<V>> {
  readonly #options: ResolvedKafkaSourceOptions<V>;
  readonly #context: SourceReaderContext;
  readonly #attempt: number;
  readonly #groupId: string;
  readonly #decoding: DecodingOptions<V>;
  readonly #buffer: FetchBuffer<KafkaRecord<V>>;
  readonly #splits = new Map<string, SplitState>();
  /** The splits watermark alignment paused (`pauseSplits`). */
  readonly #paused = new PausedSplits();
  /** Split of the batch `poll()` returned last. */
  #polledSplit = '';
  #kafka: Kafka | undefined;
  /** kafkajs's cluster of the client: metadata, leaders and the connections the fetcher sends on. */
  #cluster: InternalCluster | undefined;
  #admin: Admin | undefined;
  #fetcher: SplitFetcher | undefined;
  /** Incremented on every fetcher (re)start and on close: callbacks of an older fetcher stop pushing. */
  #generation = 0;
  #deadLetters: DeadLetterWriter | undefined;
  /** A dead-letter write still taking its batch (backpressure): nothing more is handed out until it resolves. */
  #deadLetterWrite: Promise<void> | undefined;
  #committer: GroupOffsetCommitter | undefined;
  #discovery: PartitionDiscovery | undefined;
  /** Positions handed to the last checkpoint barrier, committed to the group when that checkpoint completes. */
  #barrierPositions: SplitPosition[] | undefined;
  #failure: Error | undefined;
  #closed = false;

  constructor(options: ResolvedKafkaSourceOptions<V>, context: SourceReaderContext, attempt: number) {
    this.#options = options;
    this.#context = context;
    this.#attempt = attempt;
    this.#groupId = options.groupId ?? `sluice-${context.job}`;
    this.#decoding = { ...options, deserialize: deserializerFor(options.format) };
    this.#buffer = new FetchBuffer(options.bufferBytes);
  }

  /** Records and estimated bytes fetched but not yet handed out (for tests and metrics). */
  get buffered(): { readonly records: number; readonly bytes: number } {
    return { records: this.#buffer.records, bytes: this.#buffer.bytes };
  }

  /** Every batch `poll()` returns is one fetched chunk of one partition: event time keeps a watermark per partition. */
  polledSplit(): string {
    return this.#polledSplit;
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
    this.#cluster = this.#createCluster();
    const policy = o.onDeserializationError;
    if (typeof policy === 'object') {
      this.#deadLetters = new DeadLetterWriter(policy.deadLetter, this.#context, this.#attempt);
      await this.#deadLetters.start();
    }
    try {
      const admin = await this.#connectAdmin();
      const known = await fetchPartitionCounts(admin, o, true);
      await this.#addSplits(ownedPartitions(known, this.#context.subtask, this.#context.parallelism), 'initial');
      if (this.#splits.size > 0) await this.#startFetcher();
      this.#discovery = this.#createDiscovery(known);
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
    // close() may have run while start() was still connecting: it could not stop a discovery not yet made.
    if (!this.#closed) this.#discovery?.start();
  }

  poll(): readonly KafkaRecord<V>[] | null {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#deadLetterWrite !== undefined) return null;
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
      if (chunk.deadLetters !== undefined) this.#writeDeadLetters(chunk.deadLetters, split.id);
      if (chunk.records.length > 0) {
        this.#polledSplit = split.id;
        return chunk.records;
      }
      if (this.#deadLetterWrite !== undefined) return null;
    }
  }

  /**
   * Checkpointed dead letters go to their writer as their position advance is handed out, so those before barrier
   * `n` are exactly those of the records checkpoint `n` is past (see DeadLetterWriter).
   */
  #writeDeadLetters(letters: readonly DeadLetter[], split: string): void {
    const failed = (err: unknown): SluiceError =>
      new SluiceError(KafkaSourceErrorCode.deadLetter, `the dead-letter sink failed to take ${letters.length} record(s) of ${split}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    let pending: void | Promise<void>;
    try {
      pending = (this.#deadLetters as DeadLetterWriter).write(letters);
    } catch (err) {
      this.#failure = failed(err);
      throw this.#failure;
    }
    if (pending === undefined) return;
    this.#deadLetterWrite = pending.then(
      () => {
        this.#deadLetterWrite = undefined;
      },
      (err: unknown) => {
        this.#deadLetterWrite = undefined;
        this.#fail(failed(err));
      },
    );
  }

  /**
   * Watermark alignment: stops handing out and fetching the records of `splits`. What was fetched of a newly paused
   * split is dropped from the buffer (it would fill it while the other splits' records wait behind it) and fetched
   * again from its position once it resumes.
   */
  pauseSplits(splits: ReadonlySet<string>): void {
    for (const id of splits) {
      const split = this.#splits.get(id);
      if (split === undefined || this.#paused.splits.has(id)) continue;
      this.#buffer.drop(id);
      split.fetchedUpTo = split.position;
      split.rewinds++;
    }
    this.#paused.set(splits);
  }

  available(): Promise<void> {
    if (this.#failure !== undefined) return Promise.resolve();
    if (this.#deadLetterWrite !== undefined) return this.#deadLetterWrite;
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
    return [...this.#splits.values()].map((s) => ({ split: s.id, lag: Math.max(0, s.highWatermark - s.position), position: s.position }));
  }

  /** The dead-letter writer's pre-commit: the dead letters of everything handed out before this barrier. */
  async snapshotState(checkpointId: number): Promise<unknown> {
    const deadLetters = this.#deadLetters;
    if (deadLetters === undefined || !deadLetters.checkpointed) return undefined;
    await this.#deadLetterWrite;
    try {
      return await deadLetters.preCommit(checkpointId);
    } catch (err) {
      throw new SluiceError(KafkaSourceErrorCode.deadLetter, `the dead-letter sink failed to pre-commit checkpoint ${checkpointId}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    if (this.#deadLetters?.checkpointed === true) {
      try {
        await this.#deadLetters.commit(checkpointId);
      } catch (err) {
        throw new SluiceError(KafkaSourceErrorCode.deadLetter, `the dead-letter sink failed to commit checkpoint ${checkpointId}: ${(err as Error)?.message ?? String(err)}; the job restarts and commits it from the checkpoint`, { cause: err, retriable: true });
      }
    }
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
    const discoveryStopped = this.#discovery?.stop();
    this.#buffer.wakeAll();
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown> | undefined): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    // A discovery round in flight may be restarting the fetcher (connecting a new cluster): it finishes first, so
    // what it connected is disconnected below rather than left open (seen as a leaked broker connection under load).
    await attempt(() => discoveryStopped);
    await attempt(() => this.#fetcher?.stop());
    this.#fetcher = undefined;
    await attempt(() => this.#cluster?.disconnect());
    await attempt(() => this.#committer?.close());
    await attempt(() => this.#admin?.disconnect());
    this.#admin = undefined;
    await attempt(() => this.#deadLetters?.close(this.#context.signal.aborted ? 'failed' : 'finished'));
    if (errors.length > 0) this.#context.logger.debug({ err: errors[0] }, 'errors while closing the Kafka source');
  }

  // ---- splits -------------------------------------------------------------------------------------------------

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
        this.#splits.set(id, { id, topic, partition, position: start, fetchedUpTo: start, highWatermark: high, rewinds: 0 });
      }
    }
  }

  // ---- fetching -----------------------------------------------------------------------------------------------

  #createCluster(): InternalCluster {
    return createKafkajsCluster<InternalCluster>(
      this.#kafka as Kafka,
      { metadataMaxAge: 300_000, allowAutoTopicCreation: false, maxInFlightRequests: null, instrumentationEmitter: null, isolationLevel: this.#options.readUncommitted ? READ_UNCOMMITTED : READ_COMMITTED },
      'the Kafka source',
    );
  }

  async #startFetcher(): Promise<void> {
    const o = this.#options;
    const generation = ++this.#generation;
    const cluster = this.#cluster as InternalCluster;
    await cluster.connect();
    const fetcher = new SplitFetcher({
      cluster,
      splits: [...this.#splits.values()].map(({ topic, partition }) => ({ topic, partition })),
      nextOffset: (topic, partition) => this.#splits.get(kafkaSplitId(topic, partition))?.fetchedUpTo ?? 0,
      awaitRoom: () => this.#awaitRoom(generation),
      onPartition: (fetched, fetchOffset) => this.#onPartition(fetched, fetchOffset, generation),
      isPaused: (topic, partition) => this.#paused.splits.has(kafkaSplitId(topic, partition)),
      pausesChanged: () => this.#paused.changed(),
      onOffsetOutOfRange: (topic, partition) => this.#resetOutOfRange(topic, partition, generation),
      onUnknownPartition: () => this.#discovery?.soon(),
      onFailure: (error) => {
        if (generation === this.#generation && !this.#closed) this.#fail(wrapKafkaError(error, 'fetching records', o.brokers));
      },
      logger: this.#context.logger,
      readCommitted: !o.readUncommitted,
      maxWaitMs: o.maxWaitMs,
      minBytes: o.minBytes,
      maxBytes: o.maxBytes,
      maxBytesPerPartition: o.maxBytesPerPartition,
      retry: { retries: o.retries, initialRetryTimeMs: o.initialRetryTimeMs, maxRetryTimeMs: o.maxRetryTimeMs },
    });
    this.#fetcher = fetcher;
    fetcher.start();
  }

  /** Restarts fetching with the current splits; `freshCluster` after a topic was deleted (see #discover). */
  async #restartFetcher(freshCluster: boolean): Promise<void> {
    const old = this.#fetcher;
    this.#fetcher = undefined;
    this.#generation++;
    // Unblocks a fetch loop of the old fetcher waiting for room; it sees the new generation and stops.
    this.#buffer.wakeAll();
    await old?.stop();
    if (freshCluster && !this.#closed) {
      await this.#cluster?.disconnect().catch(() => undefined);
      this.#cluster = this.#createCluster();
    }
    if (!this.#closed && this.#splits.size > 0) await this.#startFetcher();
  }

  /**
   * Decodes one fetched partition into chunks of at most `maxBatchRecords`, waiting for buffer room before each push
   * (this wait is the backpressure on fetching). Records below the split's fetch position are dropped, so a fetch
   * that returns whole record batches from an earlier offset never duplicates anything. The position moves to the end
   * of every complete batch read, so batches emptied by compaction, aborted transactions and transaction markers are
   * stepped over.
   */
  async #onPartition(fetched: FetchedPartition, fetchOffset: number, generation: number): Promise<void> {
    const split = this.#splits.get(kafkaSplitId(fetched.topic, fetched.partition));
    if (split === undefined || generation !== this.#generation) return;
    if (fetched.highWatermark > split.highWatermark) split.highWatermark = fetched.highWatermark;
    // Paused (or paused and resumed) since the fetch was sent: its records are fetched again from the position.
    if (fetched.records.length === 0 || fetchOffset !== split.fetchedUpTo || this.#paused.splits.has(split.id)) return;
    const rewinds = split.rewinds;
    const current = (): boolean => generation === this.#generation && rewinds === split.rewinds;
    await decodePartition(fetched, split, this.#decoding, {
      awaitRoom: () => this.#awaitRoom(generation),
      current,
      push: (chunk) => this.#buffer.push(chunk),
      deadLetters: this.#deadLetters,
      fail: (error) => this.#fail(error),
    });
  }

  /**
   * The split's position is outside the partition's log: the records were deleted by retention (or the log was
   * truncated). Continues from the earliest offset the partition still has, and says how many records were lost.
   */
  async #resetOutOfRange(topic: string, partition: number, generation: number): Promise<void> {
    const split = this.#splits.get(kafkaSplitId(topic, partition));
    if (split === undefined || generation !== this.#generation) return;
    const watermarks = await fetchWatermarks(await this.#connectAdmin(), topic);
    const low = watermarks.get(partition)?.low ?? 0;
    if (generation !== this.#generation) return;
    this.#context.logger.warn(
      { topic, partition, position: split.fetchedUpTo, earliest: low },
      split.fetchedUpTo < low
        ? `Kafka partition ${topic}-${partition} no longer has offsets ${split.fetchedUpTo}–${low - 1} (deleted by retention); the source continues at ${low} and those ${low - split.fetchedUpTo} record(s) are not read`
        : `Kafka partition ${topic}-${partition} has no offset ${split.fetchedUpTo} any more (the log was truncated or recreated); the source continues at its earliest offset ${low}`,
    );
    split.fetchedUpTo = low;
  }

  /** Waits for buffer room; false when this fetcher is obsolete. */
  async #awaitRoom(generation: number): Promise<boolean> {
    while (!this.#buffer.hasRoom()) {
      if (generation !== this.#generation) return false;
      await this.#buffer.waitForRoom();
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

  #createDiscovery(known: ReadonlyMap<string, number>): PartitionDiscovery {
    const o = this.#options;
    return new PartitionDiscovery(
      {
        selection: o,
        intervalMs: o.discoveryIntervalMs,
        brokers: o.brokers,
        retry: { retries: o.retries, initialRetryTimeMs: o.initialRetryTimeMs, maxRetryTimeMs: o.maxRetryTimeMs },
        context: this.#context,
        reader: {
          admin: () => this.#connectAdmin(),
          dropAdmin: async () => {
            await this.#admin?.disconnect().catch(() => undefined);
            this.#admin = undefined;
          },
          dropTopic: (topic) => {
            const dropped = [...this.#splits.values()].filter((s) => s.topic === topic);
            for (const split of dropped) this.#splits.delete(split.id);
            return dropped.map((s) => s.partition);
          },
          addSplits: (owned) => this.#addSplits(owned, 'discovered'),
          restartFetcher: (freshCluster) => this.#restartFetcher(freshCluster),
          failed: () => this.#failure !== undefined,
          fail: (error) => this.#fail(error),
        },
      },
      known,
    );
  }
}

import { ProducerStateTable, type ProducedBatchInfo } from '../producer-state.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { AbortedTransaction } from '../protocol/fetch-v4-10.ts';
import {
  ATTR_CONTROL,
  ATTR_TRANSACTIONAL,
  ControlType,
  batchCrcValid,
  controlTypeOf,
  encodeControlBatch,
  readBatchHeader,
  recordTimestampsAndKeys,
  setBaseOffset,
  type BatchHeader,
} from '../protocol/record-batch.ts';
import { ProtocolError } from '../protocol/reader.ts';
import { cleanLog, dueForCleaning, type CompactionPolicy } from './log-cleaner.ts';
import { LogSegments, type RollPolicy } from './log-segments.ts';
import { refusalOf, stampLogAppendTime, type BatchRules } from './batch-validation.ts';
import { compactionPolicyOf, retentionPolicyOf, rollPolicyOf, timestampPolicyOf, type RetentionPolicy } from './topic-configs.ts';

/** Where a partition's batches go besides memory; the persistence layer provides an append-only file. */
export interface LogSink {
  append(batch: Buffer): void;
  /** Replaces everything written so far with `batches` (after the log cleaner ran), atomically. */
  rewrite(batches: readonly Buffer[]): void;
  close(): void;
}

export interface AppendResult {
  errorCode: number;
  baseOffset: number;
  /** The append time stamped on the batches of a LogAppendTime topic; -1 otherwise. */
  logAppendTime?: number;
  message?: string;
}

interface CompletedAbort {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
}

/**
 * One partition: record batches kept as the bytes the producer sent (baseOffset rewritten), with parallel arrays of
 * base and last offsets so a fetch finds its starting batch by binary search. Nothing on the fetch path looks at
 * individual records; produce decodes them only when a topic setting needs it (batch-validation.ts).
 *
 * Transactions: open transactions per producer (first offset) give the last stable offset; aborted ranges are kept
 * in offset order to answer read_committed fetches with their `aborted_transactions`.
 *
 * Segments are kept as boundaries only ({@link LogSegments}): the log cleaner of a compacted topic works below the
 * active segment ({@link compact}), retention deletes whole segments from the oldest ({@link applyRetention}), and
 * DeleteRecords moves the log start offset ({@link advanceLogStartOffset}). Policies follow the topic's configs
 * ({@link reconfigure}).
 */
export class PartitionLog {
  readonly topic: string;
  readonly partition: number;
  #batches: Buffer[] = [];
  #baseOffsets: number[] = [];
  #lastOffsets: number[] = [];
  #maxTimestamps: number[] = [];
  readonly #segments = new LogSegments();
  #roll!: RollPolicy;
  #compaction: CompactionPolicy | undefined;
  #retention: RetentionPolicy | undefined;
  #rules!: BatchRules;
  /** The log cleaner's checkpoint: offsets below it were cleaned (Kafka's cleaner-offset-checkpoint; not persisted). */
  #firstDirtyOffset = 0;
  #nextOffset = 0;
  #logStartOffset = 0;
  #sink: LogSink | undefined;
  readonly #producers = new ProducerStateTable();
  /** producerId -> first offset of its open transaction on this partition */
  readonly #openTxns = new Map<number, number>();
  readonly #aborted: CompletedAbort[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(topic: string, partition: number, sink?: LogSink, configs: ReadonlyMap<string, string> = new Map()) {
    this.topic = topic;
    this.partition = partition;
    this.#sink = sink;
    this.reconfigure(configs);
  }

  /** Follows the topic's configs (at creation, and after AlterConfigs): segment rolling, cleanup, timestamps. */
  reconfigure(configs: ReadonlyMap<string, string>): void {
    this.#roll = rollPolicyOf(configs);
    this.#compaction = compactionPolicyOf(configs);
    this.#retention = retentionPolicyOf(configs);
    this.#rules = { topicPartition: `${this.topic}-${this.partition}`, compacted: this.#compaction !== undefined, timestamps: timestampPolicyOf(configs) };
  }

  get highWatermark(): number {
    return this.#nextOffset;
  }

  get logStartOffset(): number {
    return this.#logStartOffset;
  }

  /** The first offset a read_committed consumer may not see yet: the start of the oldest open transaction. */
  get lastStableOffset(): number {
    let lso = this.#nextOffset;
    for (const first of this.#openTxns.values()) if (first < lso) lso = first;
    return lso;
  }

  get sizeInBytes(): number {
    let n = 0;
    for (const b of this.#batches) n += b.length;
    return n;
  }

  /**
   * Replays batches loaded from disk (already carrying their offsets): rebuilds the offset index, producer state,
   * open transactions and aborted ranges exactly as appends would have.
   */
  recover(batch: Buffer, header: BatchHeader, baseOffset: number): void {
    this.#index(batch, header, baseOffset, header.maxTimestamp);
  }

  /** Appends the record set of one Produce partition. Validates every batch before appending any. */
  appendFromProducer(records: Buffer): AppendResult {
    const now = Date.now();
    const batches: { buf: Buffer; header: BatchHeader }[] = [];
    let at = 0;
    try {
      while (at < records.length) {
        const header = readBatchHeader(records, at);
        if (header === undefined) {
          return { errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1, message: 'truncated record batch' };
        }
        const buf = records.subarray(at, at + header.size);
        if (!batchCrcValid(buf)) {
          return { errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1, message: 'record batch CRC mismatch' };
        }
        const refused = refusalOf(buf, header, this.#rules, now);
        if (refused !== undefined) return { ...refused, baseOffset: -1 };
        batches.push({ buf, header });
        at += header.size;
      }
    } catch (err) {
      if (err instanceof ProtocolError) {
        return { errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1, message: err.message };
      }
      throw err;
    }
    if (batches.length === 0) return { errorCode: ErrorCode.CORRUPT_MESSAGE, baseOffset: -1, message: 'no batches' };

    let firstBase = -1;
    for (const { buf, header } of batches) {
      if (header.producerId >= 0) {
        const verdict = this.#producers.check(producedInfo(header));
        if (verdict.kind === 'duplicate') {
          if (firstBase < 0) firstBase = verdict.baseOffset;
          continue;
        }
        if (verdict.kind === 'error') return { errorCode: verdict.errorCode, baseOffset: -1, message: verdict.message };
      }
      const base = this.#nextOffset;
      setBaseOffset(buf, base);
      if (this.#rules.timestamps.logAppendTime) {
        stampLogAppendTime(buf, now);
        header.maxTimestamp = now;
      }
      this.#sink?.append(buf);
      this.#index(buf, header, base, now);
      if (firstBase < 0) firstBase = base;
    }
    this.#wake();
    return { errorCode: ErrorCode.NONE, baseOffset: firstBase, logAppendTime: this.#rules.timestamps.logAppendTime ? now : -1 };
  }

  /** Whether a transaction marker of this producer epoch would be fenced by a newer epoch on this partition. */
  markerFenced(producerId: number, epoch: number): boolean {
    return !this.#producers.checkMarkerEpoch(producerId, epoch);
  }

  /** Writes a COMMIT or ABORT marker for the producer's transaction on this partition. */
  appendMarker(producerId: number, producerEpoch: number, commit: boolean, timestamp: number): void {
    const base = this.#nextOffset;
    const buf = encodeControlBatch({
      baseOffset: base,
      producerId,
      producerEpoch,
      type: commit ? ControlType.COMMIT : ControlType.ABORT,
      timestamp,
    });
    const header = readBatchHeader(buf) as BatchHeader;
    this.#sink?.append(buf);
    this.#index(buf, header, base, Date.now());
    this.#wake();
  }

  /** Indexes a batch appended at `base`, `now` being the wall-clock time of its append. */
  #index(buf: Buffer, header: BatchHeader, base: number, now: number): void {
    this.#segments.append(base, buf.length, header.maxTimestamp, now, this.#roll);
    const last = base + header.lastOffsetDelta;
    this.#batches.push(buf);
    this.#baseOffsets.push(base);
    this.#lastOffsets.push(last);
    this.#maxTimestamps.push(header.maxTimestamp);
    this.#nextOffset = last + 1;
    if (header.producerId < 0) return;
    const isControl = (header.attributes & ATTR_CONTROL) !== 0;
    if (isControl) {
      const first = this.#openTxns.get(header.producerId);
      this.#openTxns.delete(header.producerId);
      if (first !== undefined && controlTypeOf(buf) === ControlType.ABORT) {
        this.#aborted.push({ producerId: header.producerId, firstOffset: first, lastOffset: base });
      }
      this.#producers.observeMarker(header.producerId, header.producerEpoch);
      return;
    }
    this.#producers.observe(producedInfo(header), base);
    if ((header.attributes & ATTR_TRANSACTIONAL) !== 0 && !this.#openTxns.has(header.producerId)) {
      this.#openTxns.set(header.producerId, base);
    }
  }

  /** Index of the first batch whose last offset is >= offset (batches.length when none). */
  #findBatch(offset: number): number {
    let lo = 0;
    let hi = this.#lastOffsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#lastOffsets[mid] as number) < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Whole batches holding offsets from `fetchOffset` up to (not including) `limit`, at most `maxBytes` of them,
   * except that `minOne` returns the first batch even when it alone exceeds `maxBytes` (KIP-74). The first batch may
   * start before `fetchOffset`; clients skip records below the offset they asked for.
   */
  read(fetchOffset: number, limit: number, maxBytes: number, minOne: boolean): { batches: Buffer[]; bytes: number } {
    const batches: Buffer[] = [];
    let bytes = 0;
    for (let i = this.#findBatch(fetchOffset); i < this.#batches.length; i++) {
      if ((this.#baseOffsets[i] as number) >= limit) break;
      const b = this.#batches[i] as Buffer;
      if (bytes + b.length > maxBytes && !(minOne && batches.length === 0)) break;
      batches.push(b);
      bytes += b.length;
    }
    return { batches, bytes };
  }

  /** Bytes a fetch from `fetchOffset` could return below `limit` (capped at `cap`, enough to decide min_bytes). */
  availableBytes(fetchOffset: number, limit: number, cap: number): number {
    let bytes = 0;
    for (let i = this.#findBatch(fetchOffset); i < this.#batches.length && bytes < cap; i++) {
      if ((this.#baseOffsets[i] as number) >= limit) break;
      bytes += (this.#batches[i] as Buffer).length;
    }
    return bytes;
  }

  /** Aborted transactions overlapping [from, upTo): what a read_committed consumer must filter. */
  abortedTransactions(from: number, upTo: number): AbortedTransaction[] {
    const out: AbortedTransaction[] = [];
    for (const a of this.#aborted) {
      if (a.lastOffset >= from && a.firstOffset < upTo) out.push({ producerId: a.producerId, firstOffset: a.firstOffset });
    }
    return out;
  }

  /**
   * One pass of the log cleaner when the topic is compacted (`cleanup.policy` with `compact`) and the partition is due
   * (see log-cleaner.ts): the batches below the first uncleanable offset — the active segment's base, the last stable
   * offset, or the first segment holding records younger than `min.compaction.lag.ms` — are replaced by their cleaned
   * copies, in memory and in the partition's file. Answers the number of records removed, or undefined when the pass
   * did not run. Fetches already answered keep the batches they were given.
   */
  compact(now: number): number | undefined {
    const policy = this.#compaction;
    if (policy === undefined) return undefined;
    let firstUncleanable = Math.min(this.#segments.activeBaseOffset, this.lastStableOffset);
    const young = this.#segments.all().find((s) => s.maxTimestamp > now - policy.minCompactionLagMs);
    if (young !== undefined) firstUncleanable = Math.min(firstUncleanable, young.baseOffset);
    const input = {
      batches: this.#batches,
      baseOffsets: this.#baseOffsets,
      firstDirtyOffset: Math.max(this.#firstDirtyOffset, this.#logStartOffset),
      firstUncleanableOffset: firstUncleanable,
      segmentOf: (offset: number) => this.#segments.segmentOf(offset),
      segments: this.#segments.all(),
      aborted: this.#aborted,
      policy,
    };
    if (!dueForCleaning(input)) return undefined;
    const cleaned = cleanLog(input);
    const headers = cleaned.batches.map((b) => readBatchHeader(b)!);
    this.#batches = cleaned.batches.concat(this.#batches.slice(cleaned.replaced));
    this.#baseOffsets = cleaned.baseOffsets.concat(this.#baseOffsets.slice(cleaned.replaced));
    this.#lastOffsets = cleaned.baseOffsets.map((base, i) => base + headers[i]!.lastOffsetDelta).concat(this.#lastOffsets.slice(cleaned.replaced));
    this.#maxTimestamps = headers.map((h) => h.maxTimestamp).concat(this.#maxTimestamps.slice(cleaned.replaced));
    this.#resizeSegments();
    this.#firstDirtyOffset = firstUncleanable;
    this.#sink?.rewrite(this.#batches);
    return cleaned.recordsRemoved;
  }

  /**
   * Moves the log start offset up to `offset` (DeleteRecords; never down) and drops the batches wholly below it, in
   * memory and in the partition's file. A batch holding the new start stays whole: fetches from below the start
   * offset are OFFSET_OUT_OF_RANGE, and clients skip the records of a batch below the offset they asked for.
   */
  advanceLogStartOffset(offset: number): void {
    if (offset <= this.#logStartOffset) return;
    this.#logStartOffset = Math.min(offset, this.#nextOffset);
    const drop = this.#findBatch(this.#logStartOffset);
    if (drop === 0) return;
    this.#batches = this.#batches.slice(drop);
    this.#baseOffsets = this.#baseOffsets.slice(drop);
    this.#lastOffsets = this.#lastOffsets.slice(drop);
    this.#maxTimestamps = this.#maxTimestamps.slice(drop);
    this.#resizeSegments();
    this.#sink?.rewrite(this.#batches);
  }

  /**
   * Retention of a topic whose `cleanup.policy` includes `delete`, as Kafka 2.1's `Log.deleteOldSegments`: from the
   * oldest, segments go while their newest record is more than `retention.ms` old; then, while the partition is larger
   * than `retention.bytes` by at least the oldest segment's size, that segment goes. The active segment may go too
   * (the next append starts a new one). The log start offset moves to the first segment left, or to the log end.
   * Answers the records removed, or undefined when nothing went.
   */
  applyRetention(now: number): number | undefined {
    const policy = this.#retention;
    if (policy === undefined) return undefined;
    const segments = this.#segments.all();
    let count = 0;
    if (policy.retentionMs >= 0) {
      while (count < segments.length && now - segments[count]!.maxTimestamp > policy.retentionMs) count++;
    }
    if (policy.retentionBytes >= 0) {
      let over = segments.slice(count).reduce((n, s) => n + s.bytes, 0) - policy.retentionBytes;
      while (count < segments.length && over - segments[count]!.bytes >= 0) over -= segments[count++]!.bytes;
    }
    if (count === 0) return undefined;
    const start = count < segments.length ? segments[count]!.baseOffset : this.#nextOffset;
    let removed = 0;
    for (let i = 0; i < this.#batches.length && this.#lastOffsets[i]! < start; i++) removed += readBatchHeader(this.#batches[i]!)!.recordCount;
    this.advanceLogStartOffset(start);
    return removed;
  }

  /** Sizes the segments by the batches left in them (after a cleaning or a move of the log start). */
  #resizeSegments(): void {
    const bytes = new Map<object, number>();
    for (let i = 0; i < this.#batches.length; i++) {
      const segment = this.#segments.segmentOf(this.#baseOffsets[i]!)!;
      bytes.set(segment, (bytes.get(segment) ?? 0) + this.#batches[i]!.length);
    }
    this.#segments.resize((segment) => bytes.get(segment) ?? 0);
  }

  /** Offset of the first record with timestamp >= ts, with that record's timestamp; undefined when none. */
  offsetForTimestamp(ts: number): { offset: number; timestamp: number } | undefined {
    for (let i = 0; i < this.#batches.length; i++) {
      if ((this.#maxTimestamps[i] as number) < ts) continue;
      const batch = this.#batches[i] as Buffer;
      const header = readBatchHeader(batch);
      if (header === undefined || (header.attributes & ATTR_CONTROL) !== 0) continue;
      const base = this.#baseOffsets[i] as number;
      for (const r of recordTimestampsAndKeys(batch)) {
        if (r.timestamp >= ts) return { offset: base + r.offsetDelta, timestamp: r.timestamp };
      }
      // Codec we cannot decode: the batch as a whole is the best answer.
      return { offset: base, timestamp: this.#maxTimestamps[i] as number };
    }
    return undefined;
  }

  /** Calls `fn` once on the next append or marker; returns a function that cancels the wait. */
  onAppend(fn: () => void): () => void {
    this.#waiters.add(fn);
    return () => this.#waiters.delete(fn);
  }

  #wake(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  /** Wakes waiters without data (topic deleted, broker closing) so long polls answer now. */
  wakeAll(): void {
    this.#wake();
  }

  close(): void {
    this.#sink?.close();
    this.#sink = undefined;
    this.#wake();
  }
}

function producedInfo(h: BatchHeader): ProducedBatchInfo {
  return {
    producerId: h.producerId,
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    lastOffsetDelta: h.lastOffsetDelta,
  };
}

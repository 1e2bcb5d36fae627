/**
 * The segments of one partition, as Kafka divides a log: only their boundaries and the facts the log cleaner needs
 * (size, when last appended to). The batches themselves stay in the partition's arrays and file.
 */
export interface SegmentInfo {
  /** Offset of the first batch appended to the segment (its file name in Kafka). */
  readonly baseOffset: number;
  /** Bytes of the batches it holds. */
  bytes: number;
  /** Max timestamp of its first batch: what time-based rolling measures from (Kafka's `rollingBasedTimestamp`). */
  readonly rollTimestamp: number;
  /** Largest record timestamp in it: `min.compaction.lag.ms` measures from this. */
  maxTimestamp: number;
  /** Wall-clock time of its last append (the segment file's mtime in Kafka): the tombstone horizon uses it. */
  lastModified: number;
}

/** When a partition starts a new segment: the topic's `segment.bytes` and `segment.ms`. */
export interface RollPolicy {
  readonly segmentBytes: number;
  readonly segmentMs: number;
}

/**
 * Segment bookkeeping of a partition, following Kafka 2.1's `Log.maybeRoll`: a batch goes into a new segment when
 * the active one is not empty and either the batch would take it past `segment.bytes`, or the batch's max timestamp
 * is more than `segment.ms` after the active segment's first batch. Rolling happens only on append; the last segment
 * is the active one, which the log cleaner never touches.
 *
 * @example
 * ```ts
 * const segments = new LogSegments();
 * segments.append(0, 120, Date.now(), Date.now(), { segmentBytes: 1024, segmentMs: 604800000 });
 * segments.activeBaseOffset; // 0
 * ```
 */
export class LogSegments {
  #segments: SegmentInfo[] = [];

  /** Base offset of the active (last) segment; Infinity while the log is empty. */
  get activeBaseOffset(): number {
    return this.#segments.at(-1)?.baseOffset ?? Infinity;
  }

  /** Every segment, oldest first; the last is the active one. */
  all(): readonly SegmentInfo[] {
    return this.#segments;
  }

  /** Notes a batch of `size` bytes appended at `baseOffset`, rolling first when Kafka would. */
  append(baseOffset: number, size: number, maxTimestamp: number, now: number, policy: RollPolicy): void {
    let active = this.#segments.at(-1);
    const full = active !== undefined && active.bytes > 0 && active.bytes > policy.segmentBytes - size;
    const old = active !== undefined && active.bytes > 0 && maxTimestamp - active.rollTimestamp > policy.segmentMs;
    if (active === undefined || full || old) {
      active = { baseOffset, bytes: 0, rollTimestamp: maxTimestamp, maxTimestamp, lastModified: now };
      this.#segments.push(active);
    }
    active.bytes += size;
    active.maxTimestamp = Math.max(active.maxTimestamp, maxTimestamp);
    active.lastModified = now;
  }

  /** The segment holding the batch at `baseOffset` (the last whose base offset is not above it). */
  segmentOf(baseOffset: number): SegmentInfo | undefined {
    let lo = 0;
    let hi = this.#segments.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#segments[mid]!.baseOffset <= baseOffset) lo = mid + 1;
      else hi = mid;
    }
    return this.#segments[lo - 1];
  }

  /**
   * After a cleaning or a move of the log start: each segment's size is what its remaining batches add up to, and
   * segments left empty are gone, as Kafka deletes them. (The cleaner never empties the active segment; retention and
   * DeleteRecords may, and the next append then starts a new one, as Kafka rolls one when it deletes them all.)
   */
  resize(bytesOf: (segment: SegmentInfo) => number): void {
    for (const segment of this.#segments) segment.bytes = bytesOf(segment);
    this.#segments = this.#segments.filter((s) => s.bytes > 0);
  }
}

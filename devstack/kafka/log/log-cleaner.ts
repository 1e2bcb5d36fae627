import { ATTR_CONTROL, ATTR_TRANSACTIONAL, readBatchHeader } from '../protocol/record-batch.ts';
import { filterRecords } from '../protocol/record-filter.ts';
import type { SegmentInfo } from './log-segments.ts';

/** A compacted topic's settings the cleaner follows (Kafka's topic configs of the same names). */
export interface CompactionPolicy {
  /** `min.cleanable.dirty.ratio`: clean once the dirty part is more than this share of the cleanable log. */
  readonly minCleanableDirtyRatio: number;
  /** `min.compaction.lag.ms`: a segment holding records younger than this is not cleaned yet. */
  readonly minCompactionLagMs: number;
  /** `delete.retention.ms`: how long a tombstone stays once it is in the cleaned part of the log. */
  readonly deleteRetentionMs: number;
}

/** A completed aborted transaction on the partition (its data records are discarded by the cleaner). */
export interface AbortedRange {
  readonly producerId: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
}

/** What a cleaning pass reads: the partition's batches up to its first uncleanable offset, and context. */
export interface CleanerInput {
  readonly batches: readonly Buffer[];
  readonly baseOffsets: readonly number[];
  /** The cleaner's checkpoint: offsets from here on have not been cleaned yet. */
  readonly firstDirtyOffset: number;
  /** Nothing at or past it is cleaned: the active segment, open transactions, segments within the compaction lag. */
  readonly firstUncleanableOffset: number;
  readonly segmentOf: (baseOffset: number) => SegmentInfo | undefined;
  readonly segments: readonly SegmentInfo[];
  readonly aborted: readonly AbortedRange[];
  readonly policy: CompactionPolicy;
}

/** The cleaned prefix of the log: the batches kept, replacing the first `replaced` batches, in offset order. */
export interface CleanerOutput {
  readonly replaced: number;
  readonly batches: Buffer[];
  readonly baseOffsets: number[];
  recordsRemoved: number;
}

/**
 * Whether the partition is due for cleaning, as Kafka's cleaner manager decides: its dirty bytes (batches between
 * the cleaner's checkpoint and the first uncleanable offset) are more than `min.cleanable.dirty.ratio` of the
 * cleanable log (from its start to the first uncleanable offset).
 */
export function dueForCleaning(input: Pick<CleanerInput, 'batches' | 'baseOffsets' | 'firstDirtyOffset' | 'firstUncleanableOffset' | 'policy'>): boolean {
  let clean = 0;
  let dirty = 0;
  for (let i = 0; i < input.batches.length; i++) {
    const base = input.baseOffsets[i]!;
    if (base >= input.firstUncleanableOffset) break;
    if (base < input.firstDirtyOffset) clean += input.batches[i]!.length;
    else dirty += input.batches[i]!.length;
  }
  return dirty > 0 && dirty / (clean + dirty) > input.policy.minCleanableDirtyRatio;
}

/**
 * One pass of Kafka's log cleaner over a compacted partition (`LogCleaner.Cleaner.clean`, Kafka 2.1):
 *
 * 1. An offset map of the dirty part: each key's latest offset, skipping control batches and the records of aborted
 *    transactions.
 * 2. Every batch below the first uncleanable offset is filtered: a record goes when a later record of its key is in
 *    the map, when it has no key, when it belongs to an aborted transaction, or when it is a tombstone in a segment
 *    last written before the delete horizon (the last cleaned segment's last write less `delete.retention.ms`; none
 *    before the first pass, so a tombstone survives at least one pass and `delete.retention.ms` after it).
 * 3. Offsets never change: filtered batches keep their base and last offsets ({@link filterRecords}), emptied
 *    batches go, so readers see gaps.
 *
 * Kept as they are (simplifications a reader cannot tell from a cleaner that has not got round to them yet):
 * transaction markers; a batch whose codec cannot be read here; and a producer's last batch in the log when
 * filtering would empty it (Kafka keeps an empty batch there, so the producer's sequence numbers survive a restart;
 * the devstack rebuilds producer state from the batch headers).
 */
export function cleanLog(input: CleanerInput): CleanerOutput {
  const { batches, baseOffsets, firstDirtyOffset, firstUncleanableOffset } = input;
  let end = 0;
  while (end < batches.length && baseOffsets[end]! < firstUncleanableOffset) end++;

  const lastBatchOfProducer = new Map<number, number>();
  for (let i = 0; i < batches.length; i++) {
    const producerId = readBatchHeader(batches[i]!)!.producerId;
    if (producerId >= 0) lastBatchOfProducer.set(producerId, baseOffsets[i]!);
  }
  const aborted = (producerId: number, offset: number): boolean =>
    input.aborted.some((a) => a.producerId === producerId && a.firstOffset <= offset && offset <= a.lastOffset);

  const latest = new Map<string, number>();
  for (let i = 0; i < end; i++) {
    const base = baseOffsets[i]!;
    if (base < firstDirtyOffset) continue;
    const header = readBatchHeader(batches[i]!)!;
    if ((header.attributes & ATTR_CONTROL) !== 0) continue;
    if ((header.attributes & ATTR_TRANSACTIONAL) !== 0 && aborted(header.producerId, base)) continue;
    filterRecords(batches[i]!, (r) => {
      if (r.key !== null) latest.set(r.key.toString('latin1'), base + r.offsetDelta);
      return true;
    });
  }

  const lastCleaned = input.segments.filter((s) => s.baseOffset < firstDirtyOffset).at(-1);
  const deleteHorizon = lastCleaned === undefined ? 0 : lastCleaned.lastModified - input.policy.deleteRetentionMs;
  const out: CleanerOutput = { replaced: end, batches: [], baseOffsets: [], recordsRemoved: 0 };
  const keep = (batch: Buffer, base: number): void => {
    out.batches.push(batch);
    out.baseOffsets.push(base);
  };
  for (let i = 0; i < end; i++) {
    const batch = batches[i]!;
    const base = baseOffsets[i]!;
    const header = readBatchHeader(batch)!;
    const producersLast = header.producerId >= 0 && lastBatchOfProducer.get(header.producerId) === base;
    if ((header.attributes & ATTR_CONTROL) !== 0) {
      keep(batch, base);
      continue;
    }
    if ((header.attributes & ATTR_TRANSACTIONAL) !== 0 && aborted(header.producerId, base)) {
      if (producersLast) keep(batch, base);
      else out.recordsRemoved += header.recordCount;
      continue;
    }
    const retainDeletes = (input.segmentOf(base)?.lastModified ?? Infinity) > deleteHorizon;
    const result = filterRecords(batch, (r) => {
      if (r.key === null) return false;
      const newest = latest.get(r.key.toString('latin1'));
      if (newest !== undefined && base + r.offsetDelta < newest) return false;
      return !r.tombstone || retainDeletes;
    });
    if (result.kind === 'unchanged' || result.kind === 'unreadable' || (result.kind === 'empty' && producersLast)) {
      keep(batch, base);
    } else if (result.kind === 'empty') {
      out.recordsRemoved += header.recordCount;
    } else {
      keep(result.batch, base);
      out.recordsRemoved += header.recordCount - readBatchHeader(result.batch)!.recordCount;
    }
  }
  return out;
}

/**
 * The operator state a source subtask stores in a checkpoint: its reader's own state (`SourceReader.snapshotState`),
 * and, when the source has event time, each split's watermark.
 *
 * Why the splits' watermarks: a source subtask's watermark is the minimum over its splits. After a restore, each
 * split's generator starts again from the replayed records, so a split that is ahead but has nothing new to replay
 * would hold the minimum down, below where the run without a crash had it, and a record that run dropped as late
 * would be taken. Restored, each split's watermark starts from where it was (a split's watermark never goes back).
 * Keyed operators store their own watermark as well (runtime/exec/operators/operator-state-envelope.ts): theirs covers
 * the records replayed before the sources' first watermark.
 *
 * Which splits were idle is not stored, on purpose: a restore may follow downtime, and a split quiet at the checkpoint
 * may hold records written meanwhile. Restored idle, it would let the other splits' catch-up take the watermark past
 * those records, which would then be dropped as late. Restored active, it holds its subtask back until it delivers or
 * is idle again: latency, not lost records. (Built and reverted on 2026-12-07 for this reason.)
 *
 * Checkpoints written before the envelope hold the reader's state as it is; {@link openSourceEnvelopes} reads both.
 * @internal
 */
export interface SourceStateEnvelope {
  /** Marks the envelope (the value is its version). */
  readonly [ENVELOPE_TAG]: 1;
  /** The reader's own state, when it keeps some. */
  readonly reader?: unknown;
  /** `[split, watermark]` of each split with a finite watermark. */
  readonly splits?: ReadonlyArray<readonly [string, number]>;
}

const ENVELOPE_TAG = 'sluice:source';

/** The envelope to store for a source subtask, or undefined when it has neither reader state nor split watermarks. @internal */
export function sealSourceEnvelope(reader: unknown, splits: ReadonlyArray<readonly [string, number]> | undefined): SourceStateEnvelope | undefined {
  const finite = splits?.filter(([, watermark]) => Number.isFinite(watermark));
  const hasSplits = finite !== undefined && finite.length > 0;
  if (reader === undefined && !hasSplits) return undefined;
  return { [ENVELOPE_TAG]: 1, ...(reader === undefined ? {} : { reader }), ...(hasSplits ? { splits: finite } : {}) };
}

/** What a new source subtask gets back from every old subtask's operator state. @internal */
export interface OpenedSourceEnvelopes {
  /** The readers' own states, one per old subtask that stored one (what readers got before the envelope). */
  readonly readerStates: readonly unknown[] | undefined;
  /** Each split's restored watermark (the lowest, should two old subtasks name one split). */
  readonly splitWatermarks: ReadonlyMap<string, number>;
}

/** Opens the restored operator state of every old source subtask (`undefined`: none was stored). @internal */
export function openSourceEnvelopes(restored: readonly unknown[] | undefined): OpenedSourceEnvelopes {
  const readerStates: unknown[] = [];
  const splitWatermarks = new Map<string, number>();
  for (const entry of restored ?? []) {
    if (!isEnvelope(entry)) {
      readerStates.push(entry);
      continue;
    }
    if (entry.reader !== undefined) readerStates.push(entry.reader);
    for (const [split, watermark] of entry.splits ?? []) {
      splitWatermarks.set(split, Math.min(watermark, splitWatermarks.get(split) ?? Number.POSITIVE_INFINITY));
    }
  }
  return { readerStates: readerStates.length === 0 ? undefined : readerStates, splitWatermarks };
}

/**
 * A source subtask's stored entry as a reader of checkpoints shows it, the reader's state and the splits'
 * watermarks; undefined when `entry` is no source envelope (another operator's, or a checkpoint's from before). @internal
 */
export function openSourceEnvelope(entry: unknown): { readonly state: unknown; readonly splitWatermarks?: Record<string, number> } | undefined {
  if (!isEnvelope(entry)) return undefined;
  return entry.splits === undefined ? { state: entry.reader } : { state: entry.reader, splitWatermarks: Object.fromEntries(entry.splits) };
}

function isEnvelope(value: unknown): value is SourceStateEnvelope {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[ENVELOPE_TAG] === 1;
}

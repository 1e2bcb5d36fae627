import { NO_WATERMARK } from '../../api/index.ts';
import type { KeyGroupRange } from '../../state/index.ts';

/**
 * The operator state a keyed operator subtask stores in a checkpoint: its own (a window's late-records sink, a
 * broadcast function's broadcast state), and the watermark it had reached, with the key groups it held.
 *
 * Why the watermark: after a failover, the sources' watermarks start again from the replayed records, so without it
 * an operator would judge the first replayed records against no watermark at all. A record that was too late before
 * the crash would be taken then: it would bring back a window that had fired and been purged, and fire it again with
 * that one record (with a sink keyed by window, overwriting the right result). The watermark never goes back, so a
 * restored operator starts from the one it had at the checkpoint.
 *
 * Checkpoints written before the envelope hold the operator's own state as it is; {@link openEnvelopes} reads both.
 * @internal
 */
export interface OperatorStateEnvelope {
  /** Marks the envelope (the value is its version); operator state of older checkpoints has no such field. */
  readonly [ENVELOPE_TAG]: 1;
  /** The operator's own operator state, when it has some. */
  readonly state?: unknown;
  /** The last finite watermark the subtask had reached, when it had one. */
  readonly watermark?: number;
  /** The key groups the subtask held, `[first, last]`: whose records the watermark judged. */
  readonly keyGroups?: readonly [number, number];
}

const ENVELOPE_TAG = 'sluice:keyed-operator';

/** The envelope to store for a subtask, or undefined when it has neither state nor a watermark yet. @internal */
export function sealEnvelope(state: unknown, watermark: number | undefined, range: KeyGroupRange): OperatorStateEnvelope | undefined {
  const hasWatermark = watermark !== undefined && Number.isFinite(watermark);
  if (state === undefined && !hasWatermark) return undefined;
  return {
    [ENVELOPE_TAG]: 1,
    ...(state === undefined ? {} : { state }),
    ...(hasWatermark ? { watermark, keyGroups: [range.start, range.end] as const } : {}),
  };
}

/** What a restored keyed operator subtask gets back from every old subtask's operator state. @internal */
export interface OpenedEnvelopes {
  /** The operators' own states, one per old subtask that stored one (the list operators got before the envelope). */
  readonly states: readonly unknown[] | undefined;
  /**
   * The watermark to start from: the lowest any old subtask had reached over the key groups `range` holds, or
   * {@link NO_WATERMARK} when one of them was held by a subtask without one (or the checkpoint predates the
   * envelope). After a failover at the same parallelism that is exactly the watermark the subtask had; after a
   * rescale, the lowest of those it takes key groups from (a lower watermark never drops a record the job would
   * have kept).
   */
  readonly watermark: number;
}

/** Opens the restored operator state of every old subtask (`undefined`: none was stored) for the subtask holding `range`. @internal */
export function openEnvelopes(restored: readonly unknown[] | undefined, range: KeyGroupRange): OpenedEnvelopes {
  if (restored === undefined) return { states: undefined, watermark: NO_WATERMARK };
  const floors: Array<{ first: number; last: number; watermark: number }> = [];
  for (const entry of restored) {
    if (isEnvelope(entry) && entry.watermark !== undefined && entry.keyGroups !== undefined) floors.push({ first: entry.keyGroups[0], last: entry.keyGroups[1], watermark: entry.watermark });
  }
  return { states: ownStates(restored), watermark: lowestOver(floors, range) };
}

/**
 * The lowest watermark over the key groups of `range`; NO_WATERMARK if some key group has none. Old subtasks' ranges
 * are disjoint, so this visits each key group of `range` about once.
 */
function lowestOver(floors: ReadonlyArray<{ first: number; last: number; watermark: number }>, range: KeyGroupRange): number {
  const size = range.end - range.start + 1;
  const lowest = new Float64Array(size).fill(Number.POSITIVE_INFINITY);
  for (const floor of floors) {
    const last = Math.min(floor.last, range.end);
    for (let group = Math.max(floor.first, range.start); group <= last; group++) {
      const i = group - range.start;
      if (floor.watermark < (lowest[i] as number)) lowest[i] = floor.watermark;
    }
  }
  let min = Number.POSITIVE_INFINITY;
  for (const watermark of lowest) {
    if (watermark === Number.POSITIVE_INFINITY) return NO_WATERMARK; // a key group no old subtask had a watermark for
    if (watermark < min) min = watermark;
  }
  return size === 0 ? NO_WATERMARK : min;
}

function isEnvelope(value: unknown): value is OperatorStateEnvelope {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[ENVELOPE_TAG] === 1;
}

/**
 * One stored entry as a reader shows it: the operator's own state (undefined when the subtask stored only its
 * watermark) and the watermark, if stored. @internal
 */
export function openEnvelope(entry: unknown): { readonly state: unknown; readonly watermark?: number } {
  if (!isEnvelope(entry)) return { state: entry };
  return entry.watermark === undefined ? { state: entry.state } : { state: entry.state, watermark: entry.watermark };
}

/**
 * The operator's own states of restored entries, one per old subtask that stored one (older checkpoints' entries as
 * they are): what the operator restores, and what a late-records sink it drives gets back. @internal
 */
export function ownStates(restored: readonly unknown[] | undefined): readonly unknown[] | undefined {
  const states: unknown[] = [];
  for (const entry of restored ?? []) {
    if (!isEnvelope(entry)) states.push(entry);
    else if (entry.state !== undefined) states.push(entry.state);
  }
  return states.length === 0 ? undefined : states;
}

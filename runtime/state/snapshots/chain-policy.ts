import type { ChainStats } from './backend-state.ts';

/**
 * When a key group's next checkpoint writes a new full blob instead of one more delta.
 *
 * The bound is on bytes: a chain is rebased once its deltas would outweigh its full blob, so restoring a key group
 * reads at most about twice its state, and a retained chain stores at most about twice it. Deltas rewrite a key's
 * whole value, so under uniform updates a key group's deltas reach its base within a few checkpoints, and every key
 * group would then rebase at the same checkpoint: a full snapshot's cost in one interval, the very spike incremental
 * checkpoints are for. So rebasing is spread: at most a quarter of the backend's key groups rebase per checkpoint at
 * the soft bound (the ones furthest past it first), and only a chain past the hard bound — deltas twice the base,
 * or {@link MAX_CHAIN_LENGTH} blobs — rebases regardless. The length bound keeps a restore from decoding many small
 * segments per key group, and the manifest from listing them.
 * @internal
 */
export const MAX_CHAIN_LENGTH = 8;
/** Deltas past this many times the base rebase at once. @internal */
export const HARD_DELTA_RATIO = 2;
/** Share of the key groups that may rebase at the soft bound in one checkpoint. @internal */
export const SOFT_REBASE_SHARE = 0.25;

/** A key group whose changes are packed as a delta of `deltaBytes`, to be kept or replaced by a full blob. @internal */
export interface DeltaCandidate {
  readonly keyGroup: number;
  readonly stats: ChainStats;
  readonly deltaBytes: number;
}

/** The key groups among `candidates` that rebase this checkpoint (write a full blob). @internal */
export function chooseRebases(candidates: readonly DeltaCandidate[], keyGroupsInRange: number): Set<number> {
  const rebase = new Set<number>();
  const soft: Array<{ keyGroup: number; ratio: number }> = [];
  for (const { keyGroup, stats, deltaBytes } of candidates) {
    const chainDeltas = stats.deltaBytes + deltaBytes;
    if (stats.length + 1 > MAX_CHAIN_LENGTH || chainDeltas > HARD_DELTA_RATIO * stats.baseBytes) rebase.add(keyGroup);
    else if (chainDeltas > stats.baseBytes) soft.push({ keyGroup, ratio: chainDeltas / Math.max(1, stats.baseBytes) });
  }
  soft.sort((a, b) => b.ratio - a.ratio);
  const budget = Math.max(1, Math.ceil(keyGroupsInRange * SOFT_REBASE_SHARE));
  for (const { keyGroup } of soft.slice(0, budget)) rebase.add(keyGroup);
  return rebase;
}

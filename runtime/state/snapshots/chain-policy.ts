import type { ChainStats } from './backend-state.ts';

/**
 * When a key group's next checkpoint writes a new full blob instead of one more delta.
 *
 * The bound is on bytes. A rebase costs a full snapshot of the key group on the subtask's thread, so it is the price
 * of a short chain; a long chain costs at restore, which reads the base and every delta. Measured with 2M keys and
 * uniform updates (bench/incremental-checkpoints.ts), rebasing once the deltas outweighed the base (1×, hard 2×,
 * 8 blobs) gave 0.44× the throughput without checkpoints and a 764 ms median checkpoint; rebasing at 2× (hard 4×,
 * 16 blobs) gave 0.55× and 302 ms, and a restore reads about 3× the state (at most 5×). Deltas rewrite a key's whole
 * value, so under uniform updates every key group's deltas grow alike and would all reach the bound at the same
 * checkpoint: a full snapshot's cost in one interval, the very spike incremental checkpoints are for. So rebasing is
 * spread: at most a quarter of the backend's key groups rebase per checkpoint at the soft bound (the ones furthest
 * past it first), and only a chain past the hard bound — deltas {@link HARD_DELTA_RATIO} times the base, or
 * {@link MAX_CHAIN_LENGTH} blobs — rebases regardless. The length bound keeps a restore from decoding many small
 * segments per key group, and the manifest from listing them. A backend that delegates rebases nothing
 * (policy `'never'`): the checkpoint coordinator merges its chains past {@link chainPastSoftBound} off that thread,
 * and those at {@link chainPastHardBound} before they grow further (runtime/checkpoint/chain-compactor.ts).
 * @internal
 */
export const MAX_CHAIN_LENGTH = 16;
/** Deltas past this many times the base rebase at once. @internal */
export const HARD_DELTA_RATIO = 4;
/** Share of the key groups that may rebase at the soft bound in one checkpoint. @internal */
export const SOFT_REBASE_SHARE = 0.25;
/** Deltas past this many times the base may rebase (within the share). @internal */
export const SOFT_DELTA_RATIO = 2;

/**
 * Whether a chain of a full blob of `baseBytes` and `length - 1` deltas of `deltaBytes` together should be compacted
 * (replaced by one full blob): past the soft bound. The checkpoint coordinator compacts such chains in the background
 * for backends that delegate rebasing. @internal
 */
export function chainPastSoftBound(baseBytes: number, deltaBytes: number, length: number): boolean {
  return length > MAX_CHAIN_LENGTH / 2 || deltaBytes > SOFT_DELTA_RATIO * Math.max(1, baseBytes);
}

/**
 * Whether such a chain is past the hard bound: at {@link MAX_CHAIN_LENGTH} blobs it must not grow further, and deltas
 * over {@link HARD_DELTA_RATIO} times the base are too many. The backend's own rebases and the coordinator's merges
 * use this one rule. @internal
 */
export function chainPastHardBound(baseBytes: number, deltaBytes: number, length: number): boolean {
  return length >= MAX_CHAIN_LENGTH || deltaBytes > HARD_DELTA_RATIO * Math.max(1, baseBytes);
}

/** A key group whose changes are packed as a delta of `deltaBytes`, to be kept or replaced by a full blob. @internal */
export interface DeltaCandidate {
  readonly keyGroup: number;
  readonly stats: ChainStats;
  readonly deltaBytes: number;
}

/**
 * Rebase policy of a backend: `'bounded'` by the constants above, or `'never'` (it delegates rebasing, and the
 * checkpoint coordinator bounds the chains). @internal
 */
export type RebasePolicy = 'bounded' | 'never';

/** The key groups among `candidates` that rebase this checkpoint (write a full blob). @internal */
export function chooseRebases(candidates: readonly DeltaCandidate[], keyGroupsInRange: number, policy: RebasePolicy = 'bounded'): Set<number> {
  const rebase = new Set<number>();
  if (policy === 'never') return rebase;
  const soft: Array<{ keyGroup: number; ratio: number }> = [];
  for (const { keyGroup, stats, deltaBytes } of candidates) {
    const chainDeltas = stats.deltaBytes + deltaBytes;
    // Past the hard bound once this delta joins the chain (its length before it, its deltas with it).
    if (chainPastHardBound(stats.baseBytes, chainDeltas, stats.length)) rebase.add(keyGroup);
    else if (chainDeltas > SOFT_DELTA_RATIO * stats.baseBytes) soft.push({ keyGroup, ratio: chainDeltas / Math.max(1, stats.baseBytes) });
  }
  soft.sort((a, b) => b.ratio - a.ratio);
  const budget = Math.max(1, Math.ceil(keyGroupsInRange * SOFT_REBASE_SHARE));
  for (const { keyGroup } of soft.slice(0, budget)) rebase.add(keyGroup);
  return rebase;
}

/**
 * Settles one checkpoint's deltas: the candidates {@link chooseRebases} picks lose their delta (removed from
 * `deltas`) and are returned, to be written as full blobs; the others' chains in `chains` grow by their delta.
 * @internal
 */
export function settleDeltas(
  candidates: readonly DeltaCandidate[],
  chains: Map<number, ChainStats>,
  deltas: Map<number, Uint8Array>,
  keyGroupsInRange: number,
  policy: RebasePolicy = 'bounded',
): Set<number> {
  const rebase = chooseRebases(candidates, keyGroupsInRange, policy);
  for (const { keyGroup, deltaBytes } of candidates) {
    if (rebase.has(keyGroup)) {
      deltas.delete(keyGroup);
      continue;
    }
    const stats = chains.get(keyGroup)!;
    stats.deltaBytes += deltaBytes;
    stats.length++;
  }
  return rebase;
}

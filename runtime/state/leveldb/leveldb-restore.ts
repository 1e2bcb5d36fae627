import type { ChainStats } from '../snapshots/backend-state.ts';
import { restoreTimers } from '../snapshots/restore-chains.ts';
import type { StateKind } from '../state-table.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import type { CachedTable } from './cached-table.ts';
import type { StoredState } from './leveldb-snapshot.ts';
import { chainParts } from '../snapshots/chain-parts.ts';
import { KeyGroupLoader } from './key-group-loader.ts';

/**
 * Loads key groups from snapshot blobs or chains into the working database and the heap timer queues, skipping key
 * groups outside the range, and counts each key group's keys into `state.live`. Returns each chain's shape, for the
 * next incremental snapshot.
 *
 * The working database starts empty and nothing reads it yet, so the restore bulk-loads it, one key group after
 * another in ascending order, writing each key group's end state once (`key-group-loader.ts`): as LevelDB table
 * files while the database is new (`table-files/table-load.ts`).
 * @internal
 */
export async function restoreStoredChains(
  state: StoredState,
  table: (name: string, kind: StateKind) => CachedTable,
  keyGroups: Iterable<[number, Uint8Array]>,
  slicer: TimeSlicer,
): Promise<Map<number, ChainStats>> {
  const chains = new Map<number, ChainStats>();
  const { start, end } = state.range;
  // In key group order: a load into a new database writes its table files in key order, and keys start with their
  // group. Collected in slices (a checkpoint's chains are concatenated as they are read), and each let go once loaded.
  const ours: Array<[number, Uint8Array] | undefined> = [];
  for (const entry of keyGroups) {
    if (entry[0] >= start && entry[0] <= end) ours.push(entry);
    await slicer.maybeYield();
  }
  ours.sort((a, b) => a![0] - b![0]);
  if (ours.length === 0) return chains;
  const load = await state.store.bulkLoad();
  const restorer = new KeyGroupLoader(load, table, slicer);
  try {
    for (let i = 0; i < ours.length; i++) {
      const [keyGroup, blob] = ours[i]!;
      ours[i] = undefined;
      const { segments, baseBytes, base, deltas, timers } = await chainParts(keyGroup, blob, slicer);
      restorer.begin(keyGroup, blob);
      let live: number;
      if (deltas.length === 0) live = await restorer.copy(base);
      else if (restorer.mergeable(base)) live = await restorer.merge(base, deltas);
      else live = await restorer.fold([...base, ...deltas]);
      await load.endKeyGroup(slicer);
      state.live[keyGroup - start]! += live;
      restoreTimers(state, keyGroup, timers);
      chains.set(keyGroup, { baseBytes, deltaBytes: blob.length - baseBytes, length: segments });
    }
  } catch (err) {
    await load.abandon();
    throw err;
  }
  await load.finish();
  return chains;
}


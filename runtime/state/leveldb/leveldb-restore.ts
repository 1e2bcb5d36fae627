import type { ChainStats } from '../snapshots/backend-state.ts';
import { restoreTimers } from '../snapshots/restore-chains.ts';
import type { StateKind } from '../state-table.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import type { CachedTable } from './cached-table.ts';
import type { StoredState } from './leveldb-snapshot.ts';
import { chainParts } from '../snapshots/chain-parts.ts';
import { KeyGroupLoader } from './key-group-loader.ts';
import { chainsInKeyGroupOrder, type RestoreInput } from '../snapshots/owned-chains.ts';

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
  keyGroups: RestoreInput,
  slicer: TimeSlicer,
): Promise<Map<number, ChainStats>> {
  const chains = new Map<number, ChainStats>();
  const { start } = state.range;
  // In key group order: a load into a new database writes its table files in key order, and keys start with their
  // group. A checkpoint's chains are read one at a time, as the load reaches each.
  const ours = chainsInKeyGroupOrder(keyGroups, state.range, slicer);
  let next = await ours.next();
  if (next.done === true) return chains;
  const load = await state.store.bulkLoad();
  const restorer = new KeyGroupLoader(load, table, slicer);
  try {
    for (; next.done !== true; next = await ours.next()) {
      const [keyGroup, blob] = next.value;
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


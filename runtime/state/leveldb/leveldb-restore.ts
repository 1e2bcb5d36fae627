import type { StateKey } from '../key-groups.ts';
import { decodeKeyGroupBlob, isStateKey } from '../keyed-snapshot-format.ts';
import type { ChainStats } from '../snapshots/backend-state.ts';
import { badEntry, restoreTimers, type TimerChunk } from '../snapshots/restore-chains.ts';
import type { StateKind } from '../state-table.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import type { CachedTable } from './cached-table.ts';
import type { StoredState } from './leveldb-snapshot.ts';
import { packValue, storedKey } from './stored-bytes.ts';

/** Queued writes a restore lets pile up before it waits for LevelDB (bounds its memory). */
const MAX_QUEUED_WRITES = 65_536;

/**
 * Loads key groups from snapshot blobs or chains into the working database (values re-packed one by one: a
 * snapshot chunk may share msgpackr record definitions between its values, so its bytes cannot be cut apart) and
 * the heap timer queues, skipping key groups outside the range. Counts each key group's keys with state into
 * `state.live` (a chain's deltas may overwrite or delete keys of its base, so keys are tracked per key group while
 * its chain is read). Returns each chain's shape, for the next incremental snapshot.
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
  for (const [keyGroup, blob] of keyGroups) {
    if (keyGroup < start || keyGroup > end) continue;
    let segments = 0;
    let baseBytes = blob.length;
    let timers: TimerChunk[] = [];
    const present = new Map<CachedTable, Set<StateKey>>();
    for (const chunk of decodeKeyGroupBlob(keyGroup, blob)) {
      switch (chunk.type) {
        case 'segment':
          if (++segments === 2) baseBytes = chunk.offset;
          break;
        case 'state': {
          const target = table(chunk.name, chunk.kind);
          const keys = present.get(target) ?? present.set(target, new Set()).get(target)!;
          const pairs = chunk.pairs;
          for (let j = chunk.from; j < pairs.length; j += 2) {
            const key = pairs[j];
            if (!isStateKey(key)) throw badEntry(keyGroup, chunk.name, key);
            keys.add(key);
            state.store.enqueue({ key: storedKey(keyGroup, target.id, packValue(key)), value: packValue(pairs[j + 1]) });
          }
          break;
        }
        case 'tombstones': {
          const target = table(chunk.name, chunk.kind);
          const keys = present.get(target);
          for (let j = chunk.from; j < chunk.keys.length; j++) {
            const key = chunk.keys[j];
            if (!isStateKey(key)) throw badEntry(keyGroup, chunk.name, key);
            if (keys?.delete(key) !== true) continue; // not in the chain so far: nothing stored to delete
            state.store.enqueue({ key: storedKey(keyGroup, target.id, packValue(key)), value: undefined });
          }
          break;
        }
        case 'timer-reset':
          timers = [];
          break;
        case 'timers':
          timers.push(chunk);
          break;
      }
      await state.store.settle(MAX_QUEUED_WRITES);
      await slicer.maybeYield();
    }
    restoreTimers(state, keyGroup, timers);
    for (const keys of present.values()) state.live[keyGroup - start]! += keys.size;
    chains.set(keyGroup, { baseBytes, deltaBytes: blob.length - baseBytes, length: segments });
  }
  await state.store.drain();
  return chains;
}

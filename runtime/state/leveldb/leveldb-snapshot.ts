import type { KeyGroupRange } from '../key-groups.ts';
import { newTimerChunk, packChunk, packDeltaHeader, packHeader, packTimerReset } from '../keyed-snapshot-format.ts';
import type { KeyedTimerQueue } from '../keyed-timer-queue.ts';
import { RawBlobWriter } from '../packed-pairs-chunk.ts';
import { appendPair, ENTRIES_PER_CHECK, type ChainStats } from '../snapshots/backend-state.ts';
import { settleDeltas, type DeltaCandidate, type RebasePolicy } from '../snapshots/chain-policy.ts';
import type { IncrementalBlobs } from '../snapshots/incremental-snapshot.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import type { CachedTable } from './cached-table.ts';
import type { DeltaLog } from './delta-log.ts';
import { keyGroupStart, KEY_PREFIX_BYTES, stateIdOf } from './stored-bytes.ts';
import type { WorkingStore } from './working-store.ts';

/** What the LevelDB backend's snapshot writers read. @internal */
export interface StoredState {
  readonly range: KeyGroupRange;
  readonly store: WorkingStore;
  readonly tablesById: readonly CachedTable[];
  readonly timers: KeyedTimerQueue;
  readonly eventTimers: KeyedTimerQueue;
  /** Keys with state per key group slot (summed over states). */
  readonly live: Int32Array;
}

/** Timers per key group slot: their count, and packed chunks for the slots asked for. */
interface GroupTimers {
  readonly counts: Uint32Array;
  readonly chunks: (Uint8Array[] | undefined)[];
}

/**
 * Full blobs of `keyGroups` (ascending), read from the working database (every write-back drained first) plus
 * the heap timers. A key group with neither state nor timers gets no blob.
 * @internal
 */
export async function writeStoredFullBlobs(state: StoredState, keyGroups: readonly number[], slicer: TimeSlicer, timers?: GroupTimers): Promise<Map<number, Uint8Array>> {
  const { start } = state.range;
  const groupTimers = timers ?? (await collectTimers(state, new Set(keyGroups), slicer));
  const blobs = new Map<number, Uint8Array>();
  for (const keyGroup of keyGroups) {
    const writer = new RawBlobWriter(packHeader(keyGroup));
    let entries = 0;
    for await (const batch of state.store.scan(keyGroupStart(keyGroup), keyGroupStart(keyGroup + 1))) {
      for (const [key, value] of batch) {
        const table = state.tablesById[stateIdOf(key)]!;
        writer.pair(table.name, table.kind, key.subarray(KEY_PREFIX_BYTES), value);
      }
      entries += batch.length;
      await slicer.maybeYield();
    }
    for (const chunk of groupTimers.chunks[keyGroup - start] ?? []) writer.packed(chunk);
    if (entries === 0 && groupTimers.counts[keyGroup - start] === 0) continue;
    blobs.set(keyGroup, writer.finish());
  }
  return blobs;
}

/**
 * An incremental snapshot of the LevelDB backend, by the same rules as the heap backend's (`incremental-snapshot.ts`):
 * per key group a delta of the logged changes (and all its timers when any changed), a full blob where there is no
 * chain yet or the chain policy rebases, nothing when nothing changed; key groups left without state drop their
 * chain. `chains` is updated to describe the new checkpoint's chains. `beforeFullBlobs` is awaited with the key
 * groups about to be read in full, before they are read: it writes their cached changes to the working database. With
 * `policy` 'never' only key groups without a chain (or with an overflowed log) are written in full.
 * @internal
 */
export async function writeStoredIncrementalBlobs(
  state: StoredState,
  log: DeltaLog,
  chains: Map<number, ChainStats>,
  timerGroups: ReadonlySet<number>,
  slicer: TimeSlicer,
  beforeFullBlobs: (keyGroups: readonly number[]) => Promise<void>,
  policy: RebasePolicy,
): Promise<IncrementalBlobs> {
  const { start, end } = state.range;
  const groups = end - start + 1;
  const out: IncrementalBlobs = { full: new Map(), deltas: new Map(), unchanged: [] };
  const candidates: DeltaCandidate[] = [];
  const full: number[] = [];
  // Timers of every key group: counted for all (a key group with timers only still has state), packed for all (a
  // delta or a full blob of any of them may need them). Timers live in the heap; this is one pass over them.
  const timers = await collectTimers(state, undefined, slicer);
  for (let i = 0; i < groups; i++) {
    const keyGroup = start + i;
    const changes = log.take(i);
    const timersChanged = timerGroups.has(keyGroup);
    const stats = chains.get(keyGroup);
    if (state.live[i]! + timers.counts[i]! === 0) {
      chains.delete(keyGroup);
    } else if (stats === undefined || changes === 'overflowed') {
      full.push(keyGroup);
    } else if (changes === undefined && !timersChanged) {
      out.unchanged.push(keyGroup);
    } else {
      const writer = new RawBlobWriter(packDeltaHeader(keyGroup));
      changes?.forEach((stateId, packedKey, value) => {
        const table = state.tablesById[stateId]!;
        if (value === undefined) writer.tombstone(table.name, table.kind, packedKey);
        else writer.pair(table.name, table.kind, packedKey, value);
      });
      if (timersChanged) {
        writer.packed(packTimerReset());
        for (const chunk of timers.chunks[i] ?? []) writer.packed(chunk);
      }
      const delta = writer.finish();
      out.deltas.set(keyGroup, delta);
      candidates.push({ keyGroup, stats, deltaBytes: delta.length });
      await slicer.maybeYield();
    }
  }
  for (const keyGroup of settleDeltas(candidates, chains, out.deltas, groups, policy)) full.push(keyGroup);
  full.sort((a, b) => a - b);
  for (const keyGroup of full) chains.delete(keyGroup);
  await beforeFullBlobs(full);
  for (const [keyGroup, blob] of await writeStoredFullBlobs(state, full, slicer, timers)) {
    out.full.set(keyGroup, blob);
    chains.set(keyGroup, { baseBytes: blob.length, deltaBytes: 0, length: 1 });
  }
  log.bound(chains);
  return out;
}

/** Counts the timers of every key group slot and packs those of `only` (all when undefined). */
async function collectTimers(state: StoredState, only: ReadonlySet<number> | undefined, slicer: TimeSlicer): Promise<GroupTimers> {
  const { start, end } = state.range;
  const groups = end - start + 1;
  const counts = new Uint32Array(groups);
  const chunks: unknown[][][] = Array.from({ length: groups }, () => []);
  let n = 0;
  for (const [domain, queue] of [['processing-time', state.timers], ['event-time', state.eventTimers]] as const) {
    const open: (unknown[] | undefined)[] = new Array<unknown[] | undefined>(groups);
    for (const [key, keyGroup, timestamp] of queue.all()) {
      if (++n % ENTRIES_PER_CHECK === 0) await slicer.maybeYield();
      counts[keyGroup - start]!++;
      if (only === undefined || only.has(keyGroup)) appendPair(open, chunks, keyGroup - start, () => newTimerChunk(domain), key, timestamp);
    }
  }
  return { counts, chunks: chunks.map((list) => (list.length === 0 ? undefined : list.map(packChunk))) };
}

import type { StateKey } from '../key-groups.ts';
import {
  newStateChunk,
  newTimerChunk,
  newTombstoneChunk,
  packChunk,
  packDeltaHeader,
  packTimerReset,
  tombstonesAreFull,
} from '../keyed-snapshot-format.ts';
import { hasState, type Entry, type StateTable } from '../state-table.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import { appendPair, concatBytes, ENTRIES_PER_CHECK, type BackendState, type ChainStats } from './backend-state.ts';
import { settleDeltas, type DeltaCandidate } from './chain-policy.ts';
import { writeFullBlobs } from './full-snapshot.ts';

/** What an incremental snapshot writes per key group; a key group in none of the three has no state. @internal */
export interface IncrementalBlobs {
  /** Key groups that start a new chain: their whole state. */
  full: Map<number, Uint8Array>;
  /** Key groups whose chain in the parent checkpoint gets one more blob: their changes. */
  deltas: Map<number, Uint8Array>;
  /** Key groups whose chain in the parent checkpoint stays as it is. */
  unchanged: number[];
}

/** Changes since the previous snapshot, handed over by the backend (which starts collecting anew). @internal */
export interface ChangesSince {
  /** Entries stamped with this epoch were read or written since the previous snapshot. */
  readonly epoch: number;
  /** Per table name: the entries touched since the previous snapshot (`StateTable.touchedEntries`). */
  readonly touched: ReadonlyMap<string, readonly Entry<unknown>[]>;
  /** Per table name: keys that lost their entry, with their key group. */
  readonly deleted: ReadonlyMap<string, ReadonlyMap<StateKey, number>>;
  /** Key groups whose timers (of either domain) changed. */
  readonly timerGroups: ReadonlySet<number>;
  /**
   * The backend holds state it did not track: restored without knowing the checkpoint it came from. Every key
   * group with state then starts a new chain.
   */
  readonly untracked: boolean;
}

/**
 * Writes the changes since the previous snapshot: per key group a delta (touched keys with their whole value,
 * tombstones for deleted keys, and all of its timers when any changed), a full blob where `chain-policy.ts` says
 * the chain has grown enough or where there is no chain yet, or nothing when nothing changed. Updates `chains` to
 * describe the chains the new checkpoint will hold. Visits only the touched entries (`StateTable.touchedEntries`),
 * not every entry. Every entry is walked only for the key groups that rebase, and to count what each key group has
 * left when keys were removed or timers changed (a key group left without state ends its chain). With
 * `delegateRebase`, only key groups without a chain rebase: the checkpoint coordinator bounds the chains (and `chains`
 * then counts blobs since the backend's own last full blob, not the chains as compacted).
 * @internal
 */
export async function writeIncrementalBlobs(
  state: BackendState,
  chains: Map<number, ChainStats>,
  changes: ChangesSince,
  slicer: TimeSlicer,
  delegateRebase = false,
): Promise<IncrementalBlobs> {
  const out: IncrementalBlobs = { full: new Map(), deltas: new Map(), unchanged: [] };
  if (changes.untracked) {
    chains.clear();
    for (const [keyGroup, blob] of await writeFullBlobs(state, slicer)) {
      out.full.set(keyGroup, blob);
      chains.set(keyGroup, { baseBytes: blob.length, deltaBytes: 0, length: 1 });
    }
    return out;
  }
  const { start, end } = state.range;
  const groups = end - start + 1;
  const changed = new Uint8Array(groups);
  const chunks: unknown[][][] = Array.from({ length: groups }, () => []);
  let removals = 0;
  for (const table of state.tables.values()) removals += await collectTableChanges(table, changes, start, { changed, chunks }, slicer);
  const timerChunks = await collectTimerChanges(state, changes.timerGroups, changed, slicer);
  // Only a removal can leave a key group without state; counting what is left costs a walk, so it is done then only.
  const live = removals > 0 || changes.timerGroups.size > 0 ? await countLive(state, slicer) : undefined;

  const candidates: DeltaCandidate[] = [];
  const rebase = new Uint8Array(groups);
  let rebases = 0;
  for (let i = 0; i < groups; i++) {
    const keyGroup = start + i;
    const stats = chains.get(keyGroup);
    if (changed[i] === 0) {
      if (stats !== undefined) out.unchanged.push(keyGroup); // no chain and no change: no state
    } else if (live !== undefined && live[i] === 0) {
      chains.delete(keyGroup); // no state left: no chain
    } else if (stats === undefined) {
      rebase[i] = 1;
      rebases++;
    } else {
      const parts: Uint8Array[] = [packDeltaHeader(keyGroup)];
      for (const chunk of chunks[i]!) parts.push(packChunk(chunk));
      if (changes.timerGroups.has(keyGroup)) {
        parts.push(packTimerReset());
        for (const chunk of timerChunks[i]!) parts.push(packChunk(chunk));
      }
      const delta = concatBytes(parts);
      out.deltas.set(keyGroup, delta);
      candidates.push({ keyGroup, stats, deltaBytes: delta.length });
      await slicer.maybeYield();
    }
    chunks[i] = [];
    timerChunks[i] = [];
  }
  for (const keyGroup of settleDeltas(candidates, chains, out.deltas, groups, delegateRebase ? 'never' : 'bounded')) {
    rebase[keyGroup - start] = 1;
    rebases++;
  }
  if (rebases > 0) {
    const full = await writeFullBlobs(state, slicer, rebase);
    for (let i = 0; i < groups; i++) {
      if (rebase[i] === 0) continue;
      const keyGroup = start + i;
      const blob = full.get(keyGroup);
      if (blob === undefined) {
        chains.delete(keyGroup); // its state is gone: no chain
        continue;
      }
      out.full.set(keyGroup, blob);
      chains.set(keyGroup, { baseBytes: blob.length, deltaBytes: 0, length: 1 });
    }
  }
  return out;
}

/** Per key group (indexed by key group minus the range start): what its delta holds so far. */
interface DeltaParts {
  readonly changed: Uint8Array;
  /** State and tombstone chunks, to be packed. */
  readonly chunks: unknown[][][];
}

/**
 * Adds one table's tombstones and touched entries to the per-key-group deltas; returns how many tombstones. A key is
 * written once: a deleted key that has an entry again is written as its value. An emptied map is written as a
 * tombstone.
 */
async function collectTableChanges(table: StateTable, changes: ChangesSince, start: number, parts: DeltaParts, slicer: TimeSlicer): Promise<number> {
  const { changed, chunks } = parts;
  const groups = changed.length;
  const tombstones: (unknown[] | undefined)[] = new Array<unknown[] | undefined>(groups);
  let added = 0;
  const addTombstone = (i: number, key: StateKey): void => {
    added++;
    let chunk = tombstones[i];
    if (chunk === undefined || tombstonesAreFull(chunk)) {
      chunk = newTombstoneChunk(table.name, table.kind);
      tombstones[i] = chunk;
      chunks[i]!.push(chunk);
    }
    chunk.push(key);
    changed[i] = 1;
  };
  let n = 0;
  for (const [key, keyGroup] of changes.deleted.get(table.name) ?? []) {
    if (++n % ENTRIES_PER_CHECK === 0) await slicer.maybeYield();
    if (!table.entries.has(key)) addTombstone(keyGroup - start, key); // present again: written as touched below
  }
  const touched = changes.touched.get(table.name) ?? [];
  const open = new Array<unknown[] | undefined>(groups);
  const newChunk = (): unknown[] => newStateChunk(table.name, table.kind);
  const mayBeEmpty = table.kind === 'map';
  const epoch = changes.epoch;
  for (let from = 0; from < touched.length; from += ENTRIES_PER_CHECK) {
    const to = Math.min(touched.length, from + ENTRIES_PER_CHECK);
    for (let j = from; j < to; j++) {
      const entry = touched[j]!;
      if (entry.touched !== epoch) continue; // removed since (REMOVED): its tombstone is above
      const i = entry.keyGroup - start;
      if (mayBeEmpty && !hasState(table, entry)) addTombstone(i, entry.key);
      else {
        appendPair(open, chunks, i, newChunk, entry.key, entry.value);
        changed[i] = 1;
      }
    }
    await slicer.maybeYield();
  }
  return added;
}

/** Entries with state and timers per key group (indexed by key group minus the range start). */
async function countLive(state: BackendState, slicer: TimeSlicer): Promise<Uint32Array> {
  const start = state.range.start;
  const live = new Uint32Array(state.range.end - start + 1);
  for (const table of state.tables.values()) {
    const mayBeEmpty = table.kind === 'map' && table.emptyMaps > 0;
    const entries = table.entries.values();
    for (let done = false; !done; await slicer.maybeYield()) {
      for (let n = 0; n < ENTRIES_PER_CHECK; n++) {
        const next = entries.next();
        if (next.done === true) {
          done = true;
          break;
        }
        if (!mayBeEmpty || hasState(table, next.value)) live[next.value.keyGroup - start]!++;
      }
    }
  }
  let n = 0;
  for (const queue of [state.timers, state.eventTimers]) {
    for (const [, keyGroup] of queue.all()) {
      if (++n % ENTRIES_PER_CHECK === 0) await slicer.maybeYield();
      live[keyGroup - start]!++;
    }
  }
  return live;
}

/**
 * The timer chunks of the key groups whose timers changed (all of their timers: a delta replaces a key group's
 * timers as a whole), marking those key groups changed. Walks the timer queues only when some timer changed.
 */
async function collectTimerChanges(state: BackendState, timerGroups: ReadonlySet<number>, changed: Uint8Array, slicer: TimeSlicer): Promise<unknown[][][]> {
  const { start, end } = state.range;
  const groups = changed.length;
  const timerChunks: unknown[][][] = Array.from({ length: groups }, () => []);
  let inRange = 0;
  for (const keyGroup of timerGroups) {
    if (keyGroup < start || keyGroup > end) continue;
    changed[keyGroup - start] = 1;
    inRange++;
  }
  if (inRange === 0) return timerChunks;
  let n = 0;
  for (const [domain, queue] of [['processing-time', state.timers], ['event-time', state.eventTimers]] as const) {
    const open: (unknown[] | undefined)[] = new Array<unknown[] | undefined>(groups);
    for (const [key, keyGroup, timestamp] of queue.all()) {
      if (++n % ENTRIES_PER_CHECK === 0) await slicer.maybeYield();
      if (timerGroups.has(keyGroup)) appendPair(open, timerChunks, keyGroup - start, () => newTimerChunk(domain), key, timestamp);
    }
  }
  return timerChunks;
}

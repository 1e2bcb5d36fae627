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
  /** Per table name: keys that lost their entry, with their key group. */
  readonly deleted: ReadonlyMap<string, ReadonlyMap<StateKey, number>>;
  /** Key groups whose timers (of either domain) changed. */
  readonly timerGroups: ReadonlySet<number>;
}

/**
 * Writes the changes since the previous snapshot: per key group a delta (touched keys with their whole value,
 * tombstones for deleted keys, and all of its timers when any changed), a full blob where `chain-policy.ts` says
 * the chain has grown enough or where there is no chain yet, or nothing when nothing changed. Updates `chains` to
 * describe the chains the new checkpoint will hold. One pass over every entry (cheap: a field compare per entry);
 * a second one only for the key groups that rebase. With `delegateRebase`, only key groups without a chain rebase:
 * the checkpoint coordinator bounds the chains (and `chains` then counts blobs since the backend's own last full
 * blob, not the chains as compacted).
 * @internal
 */
export async function writeIncrementalBlobs(
  state: BackendState,
  chains: Map<number, ChainStats>,
  changes: ChangesSince,
  slicer: TimeSlicer,
  delegateRebase = false,
): Promise<IncrementalBlobs> {
  const { start, end } = state.range;
  const groups = end - start + 1;
  const live = new Uint32Array(groups); // entries (with state) and timers per key group
  const changed = new Uint8Array(groups);
  const chunks: unknown[][][] = Array.from({ length: groups }, () => []);
  let n = 0;

  for (const table of state.tables.values()) {
    n = await collectTableChanges(table, changes, start, live, changed, chunks, slicer, n);
  }
  const timerChunks: unknown[][][] = Array.from({ length: groups }, () => []);
  for (const [domain, queue] of [['processing-time', state.timers], ['event-time', state.eventTimers]] as const) {
    const open: (unknown[] | undefined)[] = new Array<unknown[] | undefined>(groups);
    for (const [key, keyGroup, timestamp] of queue.all()) {
      if (++n % ENTRIES_PER_CHECK === 0) await slicer.maybeYield();
      const i = keyGroup - start;
      live[i]!++;
      if (changes.timerGroups.has(keyGroup)) appendPair(open, timerChunks, i, () => newTimerChunk(domain), key, timestamp);
    }
  }
  for (const keyGroup of changes.timerGroups) if (keyGroup >= start && keyGroup <= end) changed[keyGroup - start] = 1;

  const out: IncrementalBlobs = { full: new Map(), deltas: new Map(), unchanged: [] };
  const candidates: DeltaCandidate[] = [];
  const rebase = new Uint8Array(groups);
  let rebases = 0;
  for (let i = 0; i < groups; i++) {
    const keyGroup = start + i;
    const stats = chains.get(keyGroup);
    if (live[i] === 0) {
      chains.delete(keyGroup); // no state left: no chain
    } else if (stats === undefined) {
      rebase[i] = 1;
      rebases++;
    } else if (changed[i] === 0) {
      out.unchanged.push(keyGroup);
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
    for (const [keyGroup, blob] of await writeFullBlobs(state, slicer, rebase)) {
      out.full.set(keyGroup, blob);
      chains.set(keyGroup, { baseBytes: blob.length, deltaBytes: 0, length: 1 });
    }
  }
  return out;
}

/** What {@link scanTouchedBatch} needs of one table's scan. */
interface TouchedScan {
  readonly epoch: number;
  readonly start: number;
  readonly live: Uint32Array;
  readonly changed: Uint8Array;
  readonly chunks: unknown[][][];
  readonly open: (unknown[] | undefined)[];
  readonly newChunk: () => unknown[];
  readonly mayBeEmpty: boolean;
  readonly table: StateTable;
  readonly addTombstone: (i: number, key: StateKey) => void;
}

/**
 * Scans up to {@link ENTRIES_PER_CHECK} entries of a table; `true` once the table is done. A synchronous loop between
 * two yields over the Map's values (the key is in the entry), not an `await` inside a `for…of` over its entries:
 * both allocate a `[key, entry]` pair per entry, and at 2M entries per checkpoint that meant hundreds of extra
 * young-generation collections, each slowed by the large old generation (bench/incremental-checkpoints.ts, 2M keys:
 * 781 scavenges, 3.8 s, against 114 without checkpoints).
 */
function scanTouchedBatch(entries: MapIterator<Entry<unknown>>, scan: TouchedScan): boolean {
  for (let n = 0; n < ENTRIES_PER_CHECK; n++) {
    const next = entries.next();
    if (next.done === true) return true;
    const entry = next.value;
    const key = entry.key;
    const i = entry.keyGroup - scan.start;
    const has = !scan.mayBeEmpty || hasState(scan.table, entry);
    if (has) scan.live[i]!++;
    if (entry.touched !== scan.epoch) continue;
    if (!has) {
      scan.addTombstone(i, key); // an emptied map: no state
      continue;
    }
    appendPair(scan.open, scan.chunks, i, scan.newChunk, key, entry.value);
    scan.changed[i] = 1;
  }
  return false;
}

/**
 * Adds one table's tombstones and touched entries to the per-key-group delta chunks, and counts its entries with
 * state per key group. A key is written once: a deleted key that has an entry again is written as its value.
 */
async function collectTableChanges(
  table: StateTable,
  changes: ChangesSince,
  start: number,
  live: Uint32Array,
  changed: Uint8Array,
  chunks: unknown[][][],
  slicer: TimeSlicer,
  n: number,
): Promise<number> {
  const groups = live.length;
  const tombstones: (unknown[] | undefined)[] = new Array<unknown[] | undefined>(groups);
  const addTombstone = (i: number, key: StateKey): void => {
    let chunk = tombstones[i];
    if (chunk === undefined || tombstonesAreFull(chunk)) {
      chunk = newTombstoneChunk(table.name, table.kind);
      tombstones[i] = chunk;
      chunks[i]!.push(chunk);
    }
    chunk.push(key);
    changed[i] = 1;
  };
  for (const [key, keyGroup] of changes.deleted.get(table.name) ?? []) {
    if (++n % ENTRIES_PER_CHECK === 0) await slicer.maybeYield();
    if (!table.entries.has(key)) addTombstone(keyGroup - start, key); // present again: written as touched below
  }
  const scan: TouchedScan = {
    epoch: changes.epoch,
    start,
    live,
    changed,
    chunks,
    open: new Array<unknown[] | undefined>(groups),
    newChunk: () => newStateChunk(table.name, table.kind),
    mayBeEmpty: table.kind === 'map',
    table,
    addTombstone,
  };
  const entries = table.entries.values();
  while (!scanTouchedBatch(entries, scan)) {
    n += ENTRIES_PER_CHECK;
    await slicer.maybeYield();
  }
  return n;
}

import type { KeyGroupRange } from '../key-groups.ts';
import { newTimerChunk, packChunk, packDeltaHeader, packHeader, packTimerReset } from '../keyed-snapshot-format.ts';
import type { KeyedTimerQueue } from '../keyed-timer-queue.ts';
import { appendPair, concatBytes, ENTRIES_PER_CHECK, type ChainStats } from '../snapshots/backend-state.ts';
import { settleDeltas, type DeltaCandidate } from '../snapshots/chain-policy.ts';
import type { IncrementalBlobs } from '../snapshots/incremental-snapshot.ts';
import type { TimeSlicer } from '../time-slicer.ts';
import type { CachedTable } from './cached-table.ts';
import { keyGroupStart, KEY_PREFIX_BYTES, RawChunkWriter, stateIdOf } from './stored-bytes.ts';
import type { WorkingStore } from './working-store.ts';

/**
 * The changes written back since the previous snapshot, per key group, in the order they were written: the next
 * incremental checkpoint's deltas, without reading anything back. A key written back twice appears twice; the
 * later one wins on restore. Each key group's changes are one growing byte buffer of records
 * `[state id: u16][has value: u8][key length: u32][packed key][value length: u32][packed value]`: millions of
 * changes between two checkpoints as objects (a record and two buffers each) cost ~250 bytes apiece (measured:
 * 651 MiB peak RSS at 0.5M keys); as bytes they cost what they hold.
 * @internal
 */
export class DeltaLog {
  readonly #groups: (Uint8Array | undefined)[];
  readonly #lengths: Uint32Array;

  constructor(keyGroups: number) {
    this.#groups = new Array<Uint8Array | undefined>(keyGroups);
    this.#lengths = new Uint32Array(keyGroups);
  }

  add(index: number, stateId: number, packedKey: Uint8Array, value: Uint8Array | undefined): void {
    const need = 11 + packedKey.length + (value?.length ?? 0);
    let buffer = this.#groups[index];
    const at = this.#lengths[index]!;
    if (buffer === undefined || at + need > buffer.length) {
      const grown = new Uint8Array(Math.max(4096, 2 * (buffer?.length ?? 0), at + need));
      if (buffer !== undefined) grown.set(buffer.subarray(0, at));
      buffer = grown;
      this.#groups[index] = grown;
    }
    let o = at;
    buffer[o++] = stateId >>> 8;
    buffer[o++] = stateId & 0xff;
    buffer[o++] = value === undefined ? 0 : 1;
    o = writeU32(buffer, o, packedKey.length);
    buffer.set(packedKey, o);
    o += packedKey.length;
    o = writeU32(buffer, o, value?.length ?? 0);
    if (value !== undefined) {
      buffer.set(value, o);
      o += value.length;
    }
    this.#lengths[index] = o;
  }

  /** The changes of key group slot `index` (removed from the log), in the order they were added. */
  take(index: number): LoggedChanges | undefined {
    const buffer = this.#groups[index];
    if (buffer === undefined) return undefined;
    const length = this.#lengths[index]!;
    this.#groups[index] = undefined;
    this.#lengths[index] = 0;
    return new LoggedChanges(buffer.subarray(0, length));
  }
}

/** One key group's logged changes, read in order. @internal */
export class LoggedChanges {
  constructor(readonly bytes: Uint8Array) {}

  /** Calls `fn` for each change; `value` undefined is a deletion. The arrays are views into the log. */
  forEach(fn: (stateId: number, packedKey: Uint8Array, value: Uint8Array | undefined) => void): void {
    const b = this.bytes;
    let o = 0;
    while (o < b.length) {
      const stateId = (b[o]! << 8) | b[o + 1]!;
      const hasValue = b[o + 2] === 1;
      const keyLength = readU32(b, o + 3);
      const key = b.subarray(o + 7, o + 7 + keyLength);
      o += 7 + keyLength;
      const valueLength = readU32(b, o);
      o += 4;
      fn(stateId, key, hasValue ? b.subarray(o, o + valueLength) : undefined);
      o += valueLength;
    }
  }
}

function writeU32(b: Uint8Array, o: number, n: number): number {
  b[o] = n >>> 24;
  b[o + 1] = (n >>> 16) & 0xff;
  b[o + 2] = (n >>> 8) & 0xff;
  b[o + 3] = n & 0xff;
  return o + 4;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
}

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
    const writer = new RawChunkWriter(packHeader(keyGroup));
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
    blobs.set(keyGroup, concatBytes(writer.finish()));
  }
  return blobs;
}

/**
 * An incremental snapshot of the LevelDB backend, by the same rules as the heap backend's (`incremental-snapshot.ts`):
 * per key group a delta of the logged changes (and all its timers when any changed), a full blob where there is no
 * chain yet or the chain policy rebases, nothing when nothing changed; key groups left without state drop their
 * chain. `chains` is updated to describe the new checkpoint's chains.
 * @internal
 */
export async function writeStoredIncrementalBlobs(
  state: StoredState,
  log: DeltaLog,
  chains: Map<number, ChainStats>,
  timerGroups: ReadonlySet<number>,
  slicer: TimeSlicer,
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
    } else if (stats === undefined) {
      full.push(keyGroup);
    } else if (changes === undefined && !timersChanged) {
      out.unchanged.push(keyGroup);
    } else {
      const writer = new RawChunkWriter(packDeltaHeader(keyGroup));
      changes?.forEach((stateId, packedKey, value) => {
        const table = state.tablesById[stateId]!;
        if (value === undefined) writer.tombstone(table.name, table.kind, packedKey);
        else writer.pair(table.name, table.kind, packedKey, value);
      });
      if (timersChanged) {
        writer.packed(packTimerReset());
        for (const chunk of timers.chunks[i] ?? []) writer.packed(chunk);
      }
      const delta = concatBytes(writer.finish());
      out.deltas.set(keyGroup, delta);
      candidates.push({ keyGroup, stats, deltaBytes: delta.length });
      await slicer.maybeYield();
    }
  }
  for (const keyGroup of settleDeltas(candidates, chains, out.deltas, groups)) full.push(keyGroup);
  full.sort((a, b) => a - b);
  for (const [keyGroup, blob] of await writeStoredFullBlobs(state, full, slicer, timers)) {
    out.full.set(keyGroup, blob);
    chains.set(keyGroup, { baseBytes: blob.length, deltaBytes: 0, length: 1 });
  }
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

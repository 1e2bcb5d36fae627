import { SluiceError } from '../errors/index.ts';
import { CurrentKey } from './current-key.ts';
import { validateKeyGroupRange, type KeyGroupRange, type StateKey } from './key-groups.ts';
import {
  chunkIsFull,
  decodeKeyGroupBlob,
  isStateKey,
  newStateChunk,
  newTimerChunk,
  packChunk,
  packHeader,
} from './keyed-snapshot-format.ts';
import { KeyedTimerQueue, type DueTimer, type DueTimerGroup } from './keyed-timer-queue.ts';
import { ListStateHandle, type ListState } from './list-state.ts';
import { MapStateHandle, type MapState } from './map-state.ts';
import { StateErrorCodes } from './state-errors.ts';
import { hasState, type Entry, type StateKind, type StateTable } from './state-table.ts';
import { TimeSlicer } from './time-slicer.ts';
import { ValueStateHandle, type ValueState } from './value-state.ts';

/** A snapshot of one backend: one blob per non-empty key group (format: `keyed-snapshot-format.ts`). */
export interface KeyedStateSnapshot {
  keyGroups: Map<number, Uint8Array>;
}

/** Options for {@link HeapKeyedStateBackend}. */
export interface HeapKeyedStateBackendOptions {
  maxParallelism: number;
  /** Key groups this subtask owns: `keyGroupRangeOf(subtask, parallelism, maxParallelism)`. */
  range: KeyGroupRange;
}

/** How many entries the snapshot loops process between two clock reads (a clock read costs ~50 ns). */
const ENTRIES_PER_CHECK = 1024;

type AnyHandle = ValueStateHandle<unknown> | MapStateHandle<StateKey, unknown> | ListStateHandle<unknown>;

/**
 * Keyed state in memory for one stateful operator subtask: value, map and list state plus processing- and event-time timers,
 * snapshotted per key group.
 *
 * The executor calls {@link setCurrentKey} before each record or timer; handles read and write the current key's
 * state. Each named state is one `Map<key, {keyGroup, value}>`: a read is one `Map.get`, an update of an existing
 * key one `Map.get` and a field write, and a key is hashed to its key group only when it is first inserted.
 *
 * @example
 * ```ts
 * const backend = new HeapKeyedStateBackend({ maxParallelism: 128, range: keyGroupRangeOf(0, 2, 128) });
 * const count = backend.getValueState<number>('count');
 * backend.setCurrentKey('user-17');
 * count.update((count.value() ?? 0) + 1);
 * const snapshot = await backend.snapshot(); // later: await other.restore(snapshot.keyGroups)
 * ```
 */
export class HeapKeyedStateBackend {
  readonly #maxParallelism: number;
  readonly #range: KeyGroupRange;
  readonly #current: CurrentKey;
  readonly #tables = new Map<string, StateTable>();
  readonly #handles = new Map<string, AnyHandle>();
  readonly #timers = new KeyedTimerQueue();
  readonly #eventTimers = new KeyedTimerQueue();

  constructor(options: HeapKeyedStateBackendOptions) {
    validateKeyGroupRange(options.range, options.maxParallelism);
    this.#maxParallelism = options.maxParallelism;
    this.#range = { start: options.range.start, end: options.range.end };
    this.#current = new CurrentKey(this.#maxParallelism, this.#range);
  }

  /** The key group range this backend owns. */
  get range(): KeyGroupRange {
    return { start: this.#range.start, end: this.#range.end };
  }

  get maxParallelism(): number {
    return this.#maxParallelism;
  }

  /** Sets the key the following state accesses and timer registrations apply to. */
  setCurrentKey(key: StateKey): void {
    this.#current.set(key);
  }

  get currentKey(): StateKey | undefined {
    return this.#current.key;
  }

  /** The value state `name`; the same name always returns the same handle. */
  getValueState<T>(name: string): ValueState<T> {
    return this.#handle(name, 'value') as ValueState<T>;
  }

  /** The map state `name`; the same name always returns the same handle. */
  getMapState<K extends StateKey, V>(name: string): MapState<K, V> {
    return this.#handle(name, 'map') as MapState<K, V>;
  }

  /** The list state `name`; the same name always returns the same handle. */
  getListState<T>(name: string): ListState<T> {
    return this.#handle(name, 'list') as ListState<T>;
  }

  /** Registers a processing-time timer at `timestamp` for the current key (once per key and timestamp). */
  registerTimer(timestamp: number): void {
    checkTimestamp(timestamp);
    const key = this.#current.require('');
    this.#timers.add(key, this.#current.keyGroup(), timestamp);
  }

  /** Deletes the current key's timer at `timestamp`, if any. */
  deleteTimer(timestamp: number): void {
    this.#timers.delete(this.#current.require(''), timestamp);
  }

  /** Timestamp of the earliest timer, or `undefined` when there is none. */
  nextTimerTimestamp(): number | undefined {
    return this.#timers.next();
  }

  /** Removes and returns the timers with `timestamp <= now`, in timestamp order (registration order within one). */
  pollDueTimers(now: number): DueTimer[] {
    return this.#timers.pollDue(now);
  }

  /** As {@link pollDueTimers}, grouped by timestamp (one object per timestamp, not per timer). */
  pollDueTimerGroups(now: number): DueTimerGroup[] {
    return this.#timers.pollDueGroups(now);
  }

  /** Number of pending processing-time timers. */
  timerCount(): number {
    return this.#timers.size;
  }

  /** Registers an event-time timer at `timestamp` for the current key; it fires once the watermark reaches it. */
  registerEventTimeTimer(timestamp: number): void {
    checkTimestamp(timestamp);
    const key = this.#current.require('');
    this.#eventTimers.add(key, this.#current.keyGroup(), timestamp);
  }

  /** Deletes the current key's event-time timer at `timestamp`, if any. */
  deleteEventTimeTimer(timestamp: number): void {
    this.#eventTimers.delete(this.#current.require(''), timestamp);
  }

  /** Removes and returns the event-time timers with `timestamp <= watermark`, in timestamp order. */
  pollDueEventTimeTimers(watermark: number): DueTimer[] {
    return this.#eventTimers.pollDue(watermark);
  }

  /** As {@link pollDueEventTimeTimers}, grouped by timestamp. */
  pollDueEventTimeTimerGroups(watermark: number): DueTimerGroup[] {
    return this.#eventTimers.pollDueGroups(watermark);
  }

  /** Timestamp of the earliest event-time timer, or `undefined` when there is none. */
  nextEventTimeTimerTimestamp(): number | undefined {
    return this.#eventTimers.next();
  }

  /** Number of pending event-time timers. */
  eventTimeTimerCount(): number {
    return this.#eventTimers.size;
  }

  /**
   * Serialises the state key group by key group, yielding to the event loop every ~5 ms of work. The caller must
   * not touch the backend until the promise settles (the subtask is paused during a checkpoint).
   */
  async snapshot(): Promise<KeyedStateSnapshot> {
    const slicer = new TimeSlicer();
    const { start, end } = this.#range;
    const groups = end - start + 1;
    // chunks[i] = the chunks of key group start+i, filled in one pass over each table (no per-key-group scans).
    const chunks: unknown[][][] = Array.from({ length: groups }, () => []);
    let n = 0;
    for (const table of this.#tables.values()) {
      const open: (unknown[] | undefined)[] = new Array<unknown[] | undefined>(groups);
      for (const [key, entry] of table.entries) {
        if (table.emptyMaps > 0 && !hasState(table, entry)) continue;
        const i = entry.keyGroup - start;
        let chunk = open[i];
        if (chunk === undefined || chunkIsFull(chunk)) {
          chunk = newStateChunk(table.name, table.kind);
          open[i] = chunk;
          chunks[i]!.push(chunk);
        }
        chunk.push(key, entry.value);
        if (++n % ENTRIES_PER_CHECK === 0) await slicer.maybeYield();
      }
    }
    for (const [domain, queue] of [['processing-time', this.#timers], ['event-time', this.#eventTimers]] as const) {
      const openTimers: (unknown[] | undefined)[] = new Array<unknown[] | undefined>(groups);
      for (const [key, keyGroup, timestamp] of queue.all()) {
        const i = keyGroup - start;
        let chunk = openTimers[i];
        if (chunk === undefined || chunkIsFull(chunk)) {
          chunk = newTimerChunk(domain);
          openTimers[i] = chunk;
          chunks[i]!.push(chunk);
        }
        chunk.push(key, timestamp);
        if (++n % ENTRIES_PER_CHECK === 0) await slicer.maybeYield();
      }
    }

    const keyGroups = new Map<number, Uint8Array>();
    for (let i = 0; i < groups; i++) {
      const groupChunks = chunks[i]!;
      if (groupChunks.length === 0) continue;
      const parts: Uint8Array[] = [packHeader(start + i)];
      for (const chunk of groupChunks) {
        parts.push(packChunk(chunk));
        await slicer.maybeYield();
      }
      keyGroups.set(start + i, concat(parts));
      chunks[i] = []; // let the chunk arrays go while the rest is packed
    }
    return { keyGroups };
  }

  /**
   * Loads key groups from snapshots (one old subtask's, or several when rescaling). Key groups outside this
   * backend's range are skipped, so every new subtask can be handed all blobs. A key already present is
   * overwritten. Yields to the event loop every ~5 ms.
   */
  async restore(keyGroups: Iterable<[number, Uint8Array]>): Promise<void> {
    const slicer = new TimeSlicer();
    const { start, end } = this.#range;
    for (const [keyGroup, blob] of keyGroups) {
      if (keyGroup < start || keyGroup > end) continue;
      for (const chunk of decodeKeyGroupBlob(keyGroup, blob)) {
        const pairs = chunk.pairs;
        if (chunk.type === 'state') {
          const table = this.#table(chunk.name, chunk.kind);
          const entries = table.entries;
          for (let j = chunk.from; j < pairs.length; j += 2) {
            const key = pairs[j];
            if (!isStateKey(key)) throw badKey(keyGroup, chunk.name, key);
            const replaced = table.emptyMaps > 0 ? entries.get(key) : undefined;
            if (replaced !== undefined && !hasState(table, replaced)) table.emptyMaps--;
            entries.set(key, { keyGroup, value: pairs[j + 1] } satisfies Entry<unknown>);
          }
        } else {
          const queue = chunk.domain === 'event-time' ? this.#eventTimers : this.#timers;
          for (let j = chunk.from; j < pairs.length; j += 2) {
            const key = pairs[j];
            const timestamp = pairs[j + 1];
            if (!isStateKey(key)) throw badKey(keyGroup, 'timers', key);
            if (typeof timestamp !== 'number') throw badKey(keyGroup, 'timers', timestamp);
            queue.add(key, keyGroup, timestamp);
          }
        }
        await slicer.maybeYield();
      }
    }
  }

  /** Number of distinct keys that have state in any of the backend's states (timers not counted). */
  keyCount(): number {
    const tables = [...this.#tables.values()];
    if (tables.length === 0) return 0;
    if (tables.length === 1) return tables[0]!.entries.size - tables[0]!.emptyMaps;
    const keys = new Set<StateKey>();
    for (const table of tables) {
      for (const [key, entry] of table.entries) if (hasState(table, entry)) keys.add(key);
    }
    return keys.size;
  }

  /**
   * The keys that have state in the state `name`, as a copy (the caller may change state while it walks them).
   * Flink's `applyToKeyedState`: a broadcast function visits every key of its subtask this way.
   */
  keysWithState(name: string): StateKey[] {
    const table = this.#tables.get(name);
    if (table === undefined) return [];
    const keys: StateKey[] = [];
    for (const [key, entry] of table.entries) if (hasState(table, entry)) keys.push(key);
    return keys;
  }

  /** @internal Entries in one state's table, emptied maps kept for reuse included (tests of their sweep). */
  tableEntryCount(name: string): number {
    return this.#tables.get(name)?.entries.size ?? 0;
  }

  /** Names and kinds of the states registered or restored so far. */
  stateNames(): Array<{ name: string; kind: StateKind }> {
    return [...this.#tables.values()].map((t) => ({ name: t.name, kind: t.kind }));
  }

  #handle(name: string, kind: StateKind): AnyHandle {
    const existing = this.#handles.get(name);
    if (existing !== undefined) {
      if (this.#tables.get(name)!.kind !== kind) throw kindMismatch(name, this.#tables.get(name)!.kind, kind);
      return existing;
    }
    const table = this.#table(name, kind);
    const handle =
      kind === 'value'
        ? new ValueStateHandle<unknown>(name, this.#current, table.entries)
        : kind === 'map'
          ? new MapStateHandle<StateKey, unknown>(name, this.#current, table)
          : new ListStateHandle<unknown>(name, this.#current, table.entries);
    this.#handles.set(name, handle);
    return handle;
  }

  #table(name: string, kind: StateKind): StateTable {
    const table = this.#tables.get(name);
    if (table !== undefined) {
      if (table.kind !== kind) throw kindMismatch(name, table.kind, kind);
      return table;
    }
    if (typeof name !== 'string' || name.length === 0) {
      throw new SluiceError(
        StateErrorCodes.invalidName,
        `state name ${JSON.stringify(name)} is invalid; use a non-empty string that stays the same across versions of the job`,
      );
    }
    const created: StateTable = { name, kind, entries: new Map(), emptyMaps: 0 };
    this.#tables.set(name, created);
    return created;
  }
}

function checkTimestamp(timestamp: number): void {
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    throw new SluiceError(
      StateErrorCodes.invalidTimer,
      `timer timestamp ${String(timestamp)} is invalid; use a finite number of milliseconds (e.g. clock.now() + 60_000)`,
    );
  }
}

function kindMismatch(name: string, existing: StateKind, requested: StateKind): SluiceError {
  return new SluiceError(
    StateErrorCodes.kindMismatch,
    `state "${name}" is ${existing} state and cannot also be used as ${requested} state; ` +
      `give the ${requested} state its own name`,
  );
}

function badKey(keyGroup: number, what: string, key: unknown): SluiceError {
  return new SluiceError(
    StateErrorCodes.snapshotCorrupt,
    `keyed state snapshot of key group ${keyGroup} is corrupt: ${what} holds an invalid entry ${String(key)}; ` +
      `restore from an earlier checkpoint`,
  );
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

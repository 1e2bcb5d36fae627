import type { KeyGroupRange, StateKey } from './key-groups.ts';
import type { DueTimer, DueTimerGroup } from './keyed-timer-queue.ts';
import type { ListState } from './list-state.ts';
import type { MapState } from './map-state.ts';
import type { ValueState } from './value-state.ts';
import type { RestoreInput } from './snapshots/owned-chains.ts';

/**
 * A snapshot of one backend. A full snapshot holds one blob per non-empty key group (format:
 * `keyed-snapshot-format.ts`); an incremental one also says, per key group, whether it extends or keeps the key
 * group's chain in the parent checkpoint. A key group in none of `keyGroups`, `incremental.deltas` and
 * `incremental.unchanged` has no state.
 */
export interface KeyedStateSnapshot {
  /** Full blobs: the key group's whole state (in an incremental snapshot, the start of a new chain). */
  keyGroups: Map<number, Uint8Array>;
  incremental?: IncrementalParts;
}

/** The parts of an incremental snapshot that refer to its parent checkpoint. */
export interface IncrementalParts {
  /**
   * The checkpoint whose chains the deltas extend and the unchanged key groups keep: the checkpoint of the backend's
   * previous snapshot, or the one it was restored from. `undefined` when there is neither (then there are no deltas
   * and no unchanged key groups).
   */
  parent: number | undefined;
  /** Changes since the parent, per key group: one more blob for the key group's chain. */
  deltas: Map<number, Uint8Array>;
  /** Key groups whose chain in the parent stays as it is. */
  unchanged: number[];
  /**
   * Set when the backend leaves bounding its chains to the checkpoint coordinator: it writes a full blob only for a
   * key group without a chain, and the coordinator compacts long chains into full blobs on its own thread
   * (`runtime/checkpoint/chain-compactor.ts`).
   */
  delegatesRebase?: true;
}

/**
 * The keyed state of one stateful operator subtask: value, map and list state plus processing- and event-time timers,
 * snapshotted per key group. Two implementations: `HeapKeyedStateBackend` (state in the heap, the default) and
 * `LevelDbKeyedStateBackend` (state in a local LevelDB behind a bounded heap cache, for state larger than memory).
 * Both write the same snapshot format, so a job can switch backends across a restore.
 *
 * The executor calls {@link setCurrentKey} before each record or timer; handles read and write the current key's
 * state.
 *
 * @example
 * ```ts
 * const backend: KeyedStateBackend = new HeapKeyedStateBackend({ maxParallelism: 128, range: keyGroupRangeOf(0, 2, 128) });
 * await backend.restore([]);
 * const count = backend.getValueState<number>('count');
 * backend.setCurrentKey('user-17');
 * count.update((count.value() ?? 0) + 1);
 * const snapshot = await backend.snapshot();
 * await backend.close();
 * ```
 */
export interface KeyedStateBackend {
  /** Whether {@link snapshot} writes incremental snapshots. */
  readonly incremental: boolean;
  /** The key group range this backend owns. */
  readonly range: KeyGroupRange;
  readonly maxParallelism: number;
  /** Sets the key the following state accesses and timer registrations apply to. */
  setCurrentKey(key: StateKey): void;
  readonly currentKey: StateKey | undefined;
  /** The value state `name`; the same name always returns the same handle. */
  getValueState<T>(name: string): ValueState<T>;
  /** The map state `name`; the same name always returns the same handle. */
  getMapState<K extends StateKey, V>(name: string): MapState<K, V>;
  /** The list state `name`; the same name always returns the same handle. */
  getListState<T>(name: string): ListState<T>;
  registerTimer(timestamp: number): void;
  deleteTimer(timestamp: number): void;
  nextTimerTimestamp(): number | undefined;
  pollDueTimers(now: number): DueTimer[];
  pollDueTimerGroups(now: number): DueTimerGroup[];
  timerCount(): number;
  registerEventTimeTimer(timestamp: number): void;
  deleteEventTimeTimer(timestamp: number): void;
  pollDueEventTimeTimers(watermark: number): DueTimer[];
  pollDueEventTimeTimerGroups(watermark: number): DueTimerGroup[];
  nextEventTimeTimerTimestamp(): number | undefined;
  eventTimeTimerCount(): number;
  /**
   * Serialises the state key group by key group, yielding to the event loop as it goes. The caller must not touch
   * the backend until the promise settles. An incremental backend needs the id of the checkpoint the snapshot
   * belongs to, and must see every snapshot it takes stored, in order (or be discarded).
   */
  snapshot(checkpointId?: number): Promise<KeyedStateSnapshot>;
  /**
   * Loads key groups from snapshots (full blobs or chains), skipping key groups outside the range; called once,
   * before the first record (with no blobs for a fresh start). `fromCheckpoint` names the checkpoint they come from.
   * Given a map (such as a loaded checkpoint's `keyedState(uid)`), the backend reads only the chains of its own key
   * groups, one at a time, so a restore does not hold the whole checkpoint.
   */
  restore(keyGroups: RestoreInput, fromCheckpoint?: number): Promise<void>;
  /** The keys that have state in the state `name`, as a copy (Flink's `applyToKeyedState`). */
  keysWithState(name: string): StateKey[];
  /**
   * Removes up to about `budget` keys of the TTL'd state `name` whose time (`ttlStampsName`) is at or before
   * `cutoff` (ms), with their times, resuming where the previous call stopped; returns how many (the heap backend).
   * With `expireKey`, hands each such key to it instead, which removes what expired through the state's handle (map
   * and list states, whose entries expire one by one). A backend without it names idle keys instead
   * ({@link idleKeys}).
   */
  expireIdle?(name: string, cutoff: number, budget: number, expireKey?: (key: StateKey) => boolean): number;
  /**
   * Backends that cannot remove expired keys themselves (LevelDB): up to `max` keys of the TTL'd state `name` that
   * may have been idle since `cutoff`, for the caller to check through the state's handle, which removes those that
   * expired.
   */
  idleKeys?(name: string, cutoff: number, max: number): StateKey[];
  /**
   * Resolves when the backend can take more work; `undefined` when it can now. The LevelDB backend answers a promise
   * while too many write-backs wait for LevelDB (the subtask waits before its next batch: backpressure).
   */
  backpressure(): Promise<void> | undefined;
  /** What the backend holds and how its cache is doing, for Prometheus (read at scrape time; cheap). */
  metrics(): KeyedStateMetrics;
  /** Releases what the backend holds outside the heap (the LevelDB backend's working database). */
  close(): Promise<void>;
}

/** What a keyed state backend reports of itself ({@link KeyedStateBackend.metrics}). */
export interface KeyedStateMetrics {
  /**
   * Keys with state, counted per named state (a key with state in two states counts twice): what a full snapshot
   * would write. An emptied map state does not count.
   */
  readonly entries: number;
  /** Pending timers, processing time and event time. */
  readonly timers: number;
  /** The LevelDB backend's cache in the heap; absent for the heap backend. */
  readonly cache?: StateCacheMetrics;
}

/** The LevelDB backend's bounded cache and its write-backs. */
export interface StateCacheMetrics {
  /** Estimated heap bytes of the cached entries, and the bound they are kept under (`state.cacheBytes`). */
  readonly bytes: number;
  readonly limitBytes: number;
  /** State reads that found the key in the cache, and those that did not (read from LevelDB or a queued write). */
  readonly hits: number;
  readonly misses: number;
  /** Entries evicted from the cache, written back first when changed. */
  readonly evictions: number;
  /** Writes queued for the working database and not yet in it (past 65,536 the subtask waits: backpressure). */
  readonly writesQueued: number;
}

import { SluiceError } from '../errors/index.ts';
import type { KeyGroupRange, StateKey } from './key-groups.ts';
import { KeyedBackendBase, type StateHandle } from './keyed-backend-base.ts';
import type { IncrementalParts, KeyedStateMetrics, KeyedStateSnapshot } from './keyed-state-backend.ts';
import { ListStateHandle } from './list-state.ts';
import { MapStateHandle } from './map-state.ts';
import type { BackendState, ChainStats } from './snapshots/backend-state.ts';
import { writeFullBlobs } from './snapshots/full-snapshot.ts';
import { writeIncrementalBlobs } from './snapshots/incremental-snapshot.ts';
import { restoreChains } from './snapshots/restore-chains.ts';
import { checkStateName, hasState, kindMismatch, type Entry, type StateKind, type StateTable } from './state-table.ts';
import { TimeSlicer } from './time-slicer.ts';
import { HeapTtlSweep } from './ttl/heap-ttl-sweep.ts';
import { ttlStampsName } from './ttl/state-ttl.ts';
import { ValueStateHandle } from './value-state.ts';
import type { RestoreInput } from './snapshots/owned-chains.ts';

/** Options for {@link HeapKeyedStateBackend}. */
export interface HeapKeyedStateBackendOptions {
  maxParallelism: number;
  /** Key groups this subtask owns: `keyGroupRangeOf(subtask, parallelism, maxParallelism)`. */
  range: KeyGroupRange;
  /**
   * Take incremental snapshots: track the keys read, written and deleted and the key groups whose timers changed,
   * and write only those (docs/checkpoints.md). Default false: every snapshot is full.
   */
  incremental?: boolean;
  /**
   * Incremental only: leave rebasing long chains to the checkpoint coordinator, which compacts them into full blobs
   * on its own thread (`runtime/checkpoint/chain-compactor.ts`). The backend then writes a full blob only for a key
   * group without a chain, and its snapshots cost only the changes. Set for subtasks on worker threads, whose
   * coordinator runs on the otherwise idle main thread; in one thread, a rebase from the live state is cheaper than
   * a compaction, which decodes the chain first. Default false.
   */
  delegateRebase?: boolean;
}

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
export class HeapKeyedStateBackend extends KeyedBackendBase {
  readonly #tables = new Map<string, StateTable>();
  readonly #incremental: boolean;
  readonly #delegateRebase: boolean;
  /** Incremental only: the chain of each key group in the checkpoint of the previous snapshot (or the restored one). */
  #chains = new Map<number, ChainStats>();
  /** Incremental only: the checkpoint {@link #chains} describe. */
  #parent: number | undefined;
  /** Incremental only: state was restored without its checkpoint, so the touched lists do not cover it. */
  #untracked = false;
  /** Per TTL'd state: where its sweep of expired keys resumes. */
  readonly #sweeps = new Map<string, HeapTtlSweep>();
  /** What {@link metrics} reported when {@link close} let go of the state: a finished job's figures stay. */
  #final: KeyedStateMetrics | undefined;
  readonly #state: BackendState;

  constructor(options: HeapKeyedStateBackendOptions) {
    super(options.maxParallelism, options.range);
    this.#incremental = options.incremental === true;
    this.#delegateRebase = this.#incremental && options.delegateRebase === true;
    if (this.#incremental) {
      this.timers.changedGroups = new Set();
      this.eventTimers.changedGroups = new Set();
    }
    this.#state = {
      range: this.range,
      tables: this.#tables,
      timers: this.timers,
      eventTimers: this.eventTimers,
      table: (name, kind) => this.#table(name, kind),
    };
  }

  /** Whether {@link snapshot} writes incremental snapshots. */
  override get incremental(): boolean {
    return this.#incremental;
  }


  /**
   * Serialises the state key group by key group, yielding to the event loop every ~5 ms of work. The caller must
   * not touch the backend until the promise settles (the subtask is paused during a checkpoint).
   *
   * With `incremental` set, writes what changed since the previous snapshot (or the restore) as deltas to the chains
   * of `checkpointId`'s parent, and remembers `checkpointId` as the parent of the next one: the caller must store
   * every snapshot it takes, in order, or discard the backend (a failed checkpoint fails the attempt, which does).
   */
  override async snapshot(checkpointId?: number): Promise<KeyedStateSnapshot> {
    const slicer = new TimeSlicer();
    if (!this.#incremental) return { keyGroups: await writeFullBlobs(this.#state, slicer) };
    if (checkpointId === undefined) {
      throw new SluiceError('SLUICE_INTERNAL', 'an incremental snapshot needs the id of the checkpoint it belongs to: call snapshot(checkpointId)', { retriable: false });
    }
    const epoch = this.current.epoch++;
    const deleted = new Map<string, Map<StateKey, number>>();
    const touched = new Map<string, Entry<unknown>[]>();
    for (const table of this.#tables.values()) {
      if (table.deleted !== undefined && table.deleted.size > 0) deleted.set(table.name, table.deleted);
      if (table.touchedEntries !== undefined && table.touchedEntries.length > 0) touched.set(table.name, table.touchedEntries);
      table.deleted = new Map();
      table.touchedEntries = [];
    }
    const timerGroups = new Set<number>([...this.timers.changedGroups!, ...this.eventTimers.changedGroups!]);
    this.timers.changedGroups = new Set();
    this.eventTimers.changedGroups = new Set();
    const parent = this.#parent;
    const untracked = this.#untracked;
    this.#untracked = false;
    const blobs = await writeIncrementalBlobs(this.#state, this.#chains, { epoch, touched, deleted, timerGroups, untracked }, slicer, this.#delegateRebase);
    this.#parent = checkpointId;
    const incremental: IncrementalParts = { parent, deltas: blobs.deltas, unchanged: blobs.unchanged };
    if (this.#delegateRebase) incremental.delegatesRebase = true;
    return { keyGroups: blobs.full, incremental };
  }

  /**
   * Loads key groups from snapshots (one old subtask's, or several when rescaling): full blobs, or chains (a full
   * blob followed by its deltas, concatenated). Key groups outside this backend's range are skipped, so every new
   * subtask can be handed all blobs. A key already present is overwritten. Yields to the event loop every ~5 ms.
   * `fromCheckpoint` names the checkpoint the blobs come from: an incremental backend's next snapshot extends its
   * chains.
   */
  override async restore(keyGroups: RestoreInput, fromCheckpoint?: number): Promise<void> {
    const chains = await restoreChains(this.#state, keyGroups, new TimeSlicer());
    if (!this.#incremental) return;
    // What the restore itself added is in the checkpoint already: start tracking from here.
    for (const table of this.#tables.values()) {
      table.deleted = new Map();
      table.touchedEntries = [];
    }
    this.timers.changedGroups = new Set();
    this.eventTimers.changedGroups = new Set();
    if (fromCheckpoint === undefined) {
      this.#untracked = true; // unknown parent: the next snapshot writes full blobs of all state
      return;
    }
    for (const [keyGroup, stats] of chains) this.#chains.set(keyGroup, stats);
    this.#parent = fromCheckpoint;
  }

  /**
   * Removes up to about `budget` keys of the TTL'd state `name` last used at or before `cutoff` (ms), with their
   * last-use times, resuming where the previous call stopped (heap-ttl-sweep.ts); returns how many it removed. With
   * `expireKey`, hands each such key to it instead (map and list states, whose entries expire one by one).
   */
  expireIdle(name: string, cutoff: number, budget: number, expireKey?: (key: StateKey) => boolean): number {
    const stampsName = ttlStampsName(name);
    const stamps = this.#tables.get(stampsName);
    if (stamps === undefined) return 0;
    let sweep = this.#sweeps.get(stampsName);
    if (sweep === undefined || sweep.stamps !== stamps) {
      sweep = new HeapTtlSweep(stamps, () => this.#tables.get(name));
      this.#sweeps.set(stampsName, sweep);
    }
    return sweep.sweep(cutoff, budget, expireKey);
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
  override keysWithState(name: string): StateKey[] {
    const table = this.#tables.get(name);
    if (table === undefined) return [];
    const keys: StateKey[] = [];
    for (const [key, entry] of table.entries) if (hasState(table, entry)) keys.push(key);
    return keys;
  }

  override metrics(): KeyedStateMetrics {
    if (this.#final !== undefined) return this.#final;
    let entries = 0;
    for (const table of this.#tables.values()) entries += table.entries.size - table.emptyMaps;
    return { entries, timers: this.timerCount() + this.eventTimeTimerCount() };
  }

  /**
   * Lets go of the state; {@link metrics} keeps reporting its last figures. The backend is not used after this.
   * Why release heap state at all: a `JobRunner` keeps its last attempt for its final metrics, and a service keeps
   * a finished job's runner for its metrics and status, so state left here would stay live as long as the process
   * (or until the job's name runs again) — gigabytes for a large job, one more for every finished job.
   */
  override async close(): Promise<void> {
    if (this.#final !== undefined) return;
    this.#final = this.metrics();
    for (const table of this.#tables.values()) {
      table.entries.clear();
      table.emptyMaps = 0;
      if (table.deleted !== undefined) table.deleted = new Map();
      if (table.touchedEntries !== undefined) table.touchedEntries = [];
    }
    this.#chains.clear();
    this.#sweeps.clear();
  }

  /** @internal Entries in one state's table, emptied maps kept for reuse included (tests of their sweep). */
  tableEntryCount(name: string): number {
    return this.#tables.get(name)?.entries.size ?? 0;
  }

  /** @internal Entries listed as touched since the previous snapshot in one state (tests of the list's bound). */
  touchedEntryCount(name: string): number {
    return this.#tables.get(name)?.touchedEntries?.length ?? 0;
  }

  /** Names and kinds of the states registered or restored so far. */
  stateNames(): Array<{ name: string; kind: StateKind }> {
    return [...this.#tables.values()].map((t) => ({ name: t.name, kind: t.kind }));
  }

  protected override createHandle(name: string, kind: StateKind): StateHandle {
    const table = this.#table(name, kind);
    return kind === 'value'
      ? new ValueStateHandle<unknown>(name, this.current, table)
      : kind === 'map'
        ? new MapStateHandle<StateKey, unknown>(name, this.current, table)
        : new ListStateHandle<unknown>(name, this.current, table);
  }

  #table(name: string, kind: StateKind): StateTable {
    const table = this.#tables.get(name);
    if (table !== undefined) {
      if (table.kind !== kind) throw kindMismatch(name, table.kind, kind);
      return table;
    }
    checkStateName(name);
    const created: StateTable = {
      name,
      kind,
      entries: new Map(),
      emptyMaps: 0,
      deleted: this.#incremental ? new Map() : undefined,
      touchedEntries: this.#incremental ? [] : undefined,
    };
    this.#tables.set(name, created);
    return created;
  }
}

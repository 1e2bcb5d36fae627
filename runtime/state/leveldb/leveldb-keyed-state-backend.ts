import { tmpdir } from 'node:os';
import { SluiceError } from '../../errors/index.ts';
import type { KeyGroupRange, StateKey } from '../key-groups.ts';
import { KeyedBackendBase, type StateHandle } from '../keyed-backend-base.ts';
import { packStateValue } from '../keyed-snapshot-format.ts';
import type { IncrementalParts, KeyedStateMetrics, KeyedStateSnapshot } from '../keyed-state-backend.ts';
import type { ChainStats } from '../snapshots/backend-state.ts';
import { StateErrorCodes } from '../state-errors.ts';
import { checkStateName, kindMismatch, type StateKind } from '../state-table.ts';
import { TimeSlicer } from '../time-slicer.ts';
import { entryBytes, type CachedEntry, type CachedTable, type PendingWrite } from './cached-table.ts';
import { LevelDbListState, LevelDbMapState, LevelDbValueState, type CacheAccess } from './leveldb-handles.ts';
import { restoreStoredChains } from './leveldb-restore.ts';
import { DeltaLog } from './delta-log.ts';
import { writeStoredFullBlobs, writeStoredIncrementalBlobs, type StoredState } from './leveldb-snapshot.ts';
import { packValue, storedKey, unpackValue } from './stored-bytes.ts';
import { WorkingStore, type WriteOp } from './working-store.ts';
import { LevelDbTtlScan } from './ttl-scan.ts';
import { ttlStampsName } from '../ttl/state-ttl.ts';
import type { RestoreInput } from '../snapshots/owned-chains.ts';

/**
 * Write-backs that may wait for LevelDB before the subtask waits for them: ~8 batches. Without a bound, a subtask
 * that evicts faster than LevelDB writes (compactions stall its writes for a while) queues writes without limit:
 * measured, 1.5 GiB of RSS and growing while 10M new keys were written.
 */
const MAX_QUEUED_WRITES = 65_536;

/** Default cache size: 64 MiB of estimated heap. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

/** Options for {@link LevelDbKeyedStateBackend}. */
export interface LevelDbKeyedStateBackendOptions {
  maxParallelism: number;
  /** Key groups this subtask owns: `keyGroupRangeOf(subtask, parallelism, maxParallelism)`. */
  range: KeyGroupRange;
  /** Take incremental snapshots (docs/checkpoints.md). Default false: every snapshot is full. */
  incremental?: boolean;
  /**
   * Incremental only: leave rebasing long chains to the checkpoint coordinator, as the heap backend's option of the
   * same name does. The coordinator merges this backend's chains byte for byte (`mergePackedChain`), so a rebase
   * then costs the subtask nothing: without it, a checkpoint that rebases many key groups reads them all from
   * LevelDB while the subtask waits. Set for every subtask (the merge is time-sliced). Default false.
   */
  delegateRebase?: boolean;
  /** Estimated heap bytes of cached state; default {@link DEFAULT_CACHE_BYTES}. */
  cacheBytes?: number;
  /** Folder under which the working database is created (and removed on close); default the OS temp folder. */
  directory?: string;
  /** LevelDB's `max_open_files` for the working database (74–50,000); default 1000 (`DEFAULT_MAX_OPEN_FILES`). */
  maxOpenFiles?: number;
}

/**
 * Keyed state in a local LevelDB, for state larger than the heap (Flink's RocksDB state backend): each key's value
 * is a row of a working database private to this backend, fronted by a cache in the heap bounded by estimated bytes.
 *
 * - A read that misses the cache reads LevelDB synchronously (`getSync`, ~4–15 µs; a cache hit is a `Map.get`).
 * - Writes stay in the cache (dirty) until the entry is evicted (CLOCK: entries used by a later record since the
 *   hand last passed get a second chance); then the value is packed and written in batches, off the event loop.
 *   Eviction happens when the executor sets the next key, never while a record's function runs, so a value read
 *   and changed in place within one record is written back whole.
 * - Snapshots write the same format as the heap backend. Full blobs are read from LevelDB in key order (stored
 *   bytes copied, not re-packed), after the changed entries of their key groups are written back. An incremental
 *   snapshot's deltas are the changes logged since the previous snapshot: entries evicted since, and the cache's
 *   changed entries, which are logged but stay in the cache unwritten (hot keys are not written to LevelDB at
 *   every checkpoint).
 * - Timers live in the heap, as in the heap backend.
 *
 * The working database is disposable: a restart restores from the checkpoint into a new one, and {@link close}
 * removes it.
 *
 * @example
 * ```ts
 * const backend = new LevelDbKeyedStateBackend({ maxParallelism: 128, range: keyGroupRangeOf(0, 1, 128), cacheBytes: 32 << 20 });
 * await backend.restore([]); // opens the working database
 * const count = backend.getValueState<number>('count');
 * backend.setCurrentKey('user-17');
 * count.update((count.value() ?? 0) + 1);
 * const snapshot = await backend.snapshot();
 * await backend.close();
 * ```
 */
export class LevelDbKeyedStateBackend extends KeyedBackendBase implements CacheAccess {
  readonly #incremental: boolean;
  readonly #delegateRebase: boolean;
  readonly #cacheLimit: number;
  readonly #directory: string;
  readonly #tables = new Map<string, CachedTable>();
  readonly #tablesById: CachedTable[] = [];
  readonly #live: Int32Array;
  #store: WorkingStore | undefined;
  #opening: Promise<WorkingStore> | undefined;
  #cacheBytes = 0;
  /** Running average of packed value sizes: the estimate for values not packed yet. */
  #averagePacked = 32;
  #evictFrom = 0;
  /**
   * Entries loaded since the current key was set. Their use by the same record (a reduce reads, then writes) is not
   * a second use: the next `setCurrentKey` clears their clock bit, so an entry stays past the hand only if a later
   * record used it. Without this every loaded entry got a second chance, and keys read once (most of a skewed
   * key space's tail) pushed hot ones out.
   */
  readonly #loadedForThisKey: CachedEntry[] = [];
  /** For {@link metrics}: state reads served by the cache and not, and entries evicted. */
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  readonly #maxOpenFiles: number | undefined;
  readonly #log: DeltaLog | undefined;
  readonly #chains = new Map<number, ChainStats>();
  #parent: number | undefined;
  /** Per TTL'd state: what finds its idle keys, in the cache and on disk. */
  readonly #ttlScans = new Map<string, LevelDbTtlScan>();

  constructor(options: LevelDbKeyedStateBackendOptions) {
    super(options.maxParallelism, options.range);
    this.#incremental = options.incremental === true;
    this.#delegateRebase = this.#incremental && options.delegateRebase === true;
    this.#cacheLimit = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    this.#directory = options.directory ?? tmpdir();
    this.#maxOpenFiles = options.maxOpenFiles;
    const groups = options.range.end - options.range.start + 1;
    this.#live = new Int32Array(groups);
    if (this.#incremental) {
      this.#log = new DeltaLog(options.range.start, groups, this.#delegateRebase ? 'interval' : 'chain');
      this.timers.changedGroups = new Set();
      this.eventTimers.changedGroups = new Set();
    }
  }

  override get incremental(): boolean {
    return this.#incremental;
  }

  /** Estimated heap bytes of the cached entries. */
  get cacheBytes(): number {
    return this.#cacheBytes;
  }

  /** The working database's folder, once open. */
  get directory(): string | undefined {
    return this.#store?.directory;
  }

  override setCurrentKey(key: StateKey): void {
    const loaded = this.#loadedForThisKey;
    if (loaded.length > 0) {
      for (const entry of loaded) entry.ref = false;
      loaded.length = 0;
    }
    if (this.#cacheBytes > this.#cacheLimit) this.#evict();
    super.setCurrentKey(key);
  }

  /** @internal {@link CacheAccess}: the current key's entry, loaded on a miss. */
  entry(table: CachedTable, name: string): CachedEntry {
    const key = this.current.key ?? this.current.require(name);
    const cached = table.entries.get(key);
    if (cached !== undefined) {
      cached.ref = true;
      this.#hits++;
      return cached;
    }
    this.#misses++;
    const keyGroup = this.current.keyGroup();
    const pending = table.pending.get(key);
    const bytes = pending !== undefined ? pending.value : this.#open().get(storedKey(keyGroup, table.id, packValue(key)));
    const entry: CachedEntry = {
      key,
      keyGroup,
      value: bytes === undefined ? undefined : unpackValue(bytes),
      dirty: false,
      unwritten: false,
      ref: false,
      bytes: entryBytes(bytes?.length ?? 0),
    };
    this.#loadedForThisKey.push(entry);
    table.entries.set(key, entry);
    this.#cacheBytes += entry.bytes;
    return entry;
  }

  /** @internal {@link CacheAccess}: a key gained or lost state. */
  presence(entry: CachedEntry, delta: 1 | -1): void {
    this.#live[entry.keyGroup - this.range.start]! += delta;
    if (delta === 1) {
      const grown = 2 * this.#averagePacked;
      entry.bytes += grown;
      this.#cacheBytes += grown;
    }
  }

  override async snapshot(checkpointId?: number): Promise<KeyedStateSnapshot> {
    const slicer = new TimeSlicer();
    if (this.#incremental && checkpointId === undefined) {
      throw new SluiceError('SLUICE_INTERNAL', 'an incremental snapshot needs the id of the checkpoint it belongs to: call snapshot(checkpointId)', { retriable: false });
    }
    const store = this.#open();
    const state = this.#storedState(store);
    if (!this.#incremental) {
      for (const table of this.#tablesById) {
        const entries = table.entries.values();
        while (!this.#writeBackBatch(table, entries, undefined, undefined)) await slicer.maybeYield();
      }
      await store.drain();
      const groups = Array.from({ length: this.range.end - this.range.start + 1 }, (_, i) => this.range.start + i);
      return { keyGroups: await writeStoredFullBlobs(state, groups, slicer) };
    }
    // Changed entries of key groups that get a delta are logged for it, not written to LevelDB. Full blobs are read
    // from LevelDB: key groups known to get one (no chain yet, or an overflowed log) are written now, and those the
    // chain policy rebases once it has seen the deltas' sizes are written in `beforeFullBlobs`.
    const log = this.#log!;
    const unwritten: CachedEntry[][] = this.#tablesById.map(() => []);
    for (const table of this.#tablesById) {
      const entries = table.entries.values();
      while (!this.#writeBackBatch(table, entries, unwritten[table.id]!, log)) await slicer.maybeYield();
    }
    const beforeFullBlobs = async (keyGroups: readonly number[]): Promise<void> => {
      if (keyGroups.length === 0) return; // most checkpoints: no key group rebases, nothing to walk
      const full = new Uint8Array(this.range.end - this.range.start + 1);
      for (const keyGroup of keyGroups) full[keyGroup - this.range.start] = 1;
      for (const table of this.#tablesById) {
        let n = 0;
        for (const entry of unwritten[table.id]!) {
          if (entry.unwritten && full[entry.keyGroup - this.range.start] === 1) this.#writeBack(table, entry, true);
          if (++n % 1024 === 0) await slicer.maybeYield();
        }
      }
      await store.drain();
    };
    const timerGroups = new Set<number>([...this.timers.changedGroups!, ...this.eventTimers.changedGroups!]);
    this.timers.changedGroups = new Set();
    this.eventTimers.changedGroups = new Set();
    const parent = this.#parent;
    const policy = this.#delegateRebase ? 'never' : 'bounded';
    const blobs = await writeStoredIncrementalBlobs(state, log, this.#chains, timerGroups, slicer, beforeFullBlobs, policy);
    this.#parent = checkpointId;
    const incremental: IncrementalParts = { parent, deltas: blobs.deltas, unchanged: blobs.unchanged };
    if (this.#delegateRebase) incremental.delegatesRebase = true;
    return { keyGroups: blobs.full, incremental };
  }

  override backpressure(): Promise<void> | undefined {
    const store = this.#store;
    return store === undefined || store.backlog <= MAX_QUEUED_WRITES ? undefined : store.settle(MAX_QUEUED_WRITES / 2);
  }

  /** Opens the working database and loads the blobs into it; call once, before the first record. */
  override async restore(keyGroups: RestoreInput, fromCheckpoint?: number): Promise<void> {
    const store = await this.#openAsync();
    const chains = await restoreStoredChains(this.#storedState(store), (name, kind) => this.#table(name, kind), keyGroups, new TimeSlicer());
    if (!this.#incremental) return;
    this.timers.changedGroups = new Set();
    this.eventTimers.changedGroups = new Set();
    if (fromCheckpoint === undefined) return;
    for (const [keyGroup, stats] of chains) this.#chains.set(keyGroup, stats);
    this.#log!.bound(this.#chains);
    this.#parent = fromCheckpoint;
  }

  /** Not available: state in LevelDB cannot be walked synchronously. */
  override keysWithState(name: string): StateKey[] {
    throw new SluiceError(
      StateErrorCodes.backendUnsupported,
      `applyToKeyedState("${name}") needs the heap state backend: the LevelDB backend cannot visit every key while a ` +
        `broadcast element is processed; remove state: { backend: 'leveldb' } from the job, or keep the per-key data ` +
        `in broadcast state and read it in processElement`,
      { retriable: false },
    );
  }

  override metrics(): KeyedStateMetrics {
    let entries = 0;
    for (const live of this.#live) entries += live;
    const cache = { bytes: this.#cacheBytes, limitBytes: this.#cacheLimit, hits: this.#hits, misses: this.#misses, evictions: this.#evictions, writesQueued: this.#store?.backlog ?? 0 };
    return { entries, timers: this.timerCount() + this.eventTimeTimerCount(), cache };
  }

  /**
   * Closes and removes the working database, and lets go of the cache and the changes logged for the next
   * checkpoint. Why the latter: a runner keeps its last attempt (for its final metrics) and with it this backend, so
   * a cache kept here would hold up to `cacheBytes` of heap for as long as the runner lives — through a restore in
   * the same process too. Measured on the 10M-key bench's restore after its job (bench/leveldb-state.ts, heap capped
   * at 256 MiB): the job's cache, still live, cost the restore ~2 s of its ~10 s in garbage collection.
   */
  /**
   * Up to `max` keys of the TTL'd state `name` whose last use was at or before `cutoff`, from the cache and from a
   * background scan of the working database (ttl-scan.ts). The caller checks each as its state handle sees it.
   * Throws the scan's failure (`SLUICE_STATE_BACKEND_IO`).
   */
  idleKeys(name: string, cutoff: number, max: number): StateKey[] {
    const stamps = this.#tables.get(ttlStampsName(name));
    if (stamps === undefined || this.#store === undefined) return [];
    let scan = this.#ttlScans.get(name);
    if (scan === undefined || scan.store !== this.#store) {
      scan = new LevelDbTtlScan(this.#store, stamps, this.range);
      this.#ttlScans.set(name, scan);
    }
    return scan.take(cutoff, max);
  }

  override async close(): Promise<void> {
    for (const scan of this.#ttlScans.values()) await scan.stop();
    this.#ttlScans.clear();
    const store = this.#store ?? (await this.#opening?.catch(() => undefined));
    this.#store = undefined;
    this.#opening = undefined;
    for (const table of this.#tablesById) {
      table.entries.clear();
      table.pending.clear();
      table.hand = undefined;
    }
    // #cacheBytes stays: a finished job's metrics keep their last values (hits, misses and the cache's size alike).
    this.#log?.clear();
    this.#loadedForThisKey.length = 0;
    await store?.destroy();
  }

  #open(): WorkingStore {
    if (this.#store === undefined) {
      throw new SluiceError('SLUICE_INTERNAL', 'the LevelDB state backend was used before restore() opened it', { retriable: false });
    }
    return this.#store;
  }

  async #openAsync(): Promise<WorkingStore> {
    this.#opening ??= WorkingStore.open(this.#directory, (ops) => this.#written(ops), this.#maxOpenFiles);
    this.#store = await this.#opening;
    return this.#store;
  }

  #storedState(store: WorkingStore): StoredState {
    return { range: this.range, store, tablesById: this.#tablesById, timers: this.timers, eventTimers: this.eventTimers, live: this.#live };
  }

  /**
   * Takes the next 1,024 cached entries of a snapshot; `true` once the table is done. A full snapshot (no `log`)
   * writes every changed entry to the working database. An incremental one writes those of key groups the log
   * says get a full blob, logs the other dirty ones only, and lists those the working database is then behind on
   * in `unwritten`. A synchronous loop over the Map's values between yields, which allocates nothing per entry (see
   * `scanTouchedBatch` in snapshots/incremental-snapshot.ts).
   */
  #writeBackBatch(table: CachedTable, entries: MapIterator<CachedEntry>, unwritten: CachedEntry[] | undefined, log: DeltaLog | undefined): boolean {
    const start = this.range.start;
    for (let n = 0; n < 1024; n++) {
      const next = entries.next();
      if (next.done === true) return true;
      const entry = next.value;
      if (!entry.dirty && !entry.unwritten) continue;
      if (log === undefined || log.overflowed(entry.keyGroup - start)) {
        this.#writeBack(table, entry, true);
        continue;
      }
      if (entry.dirty) this.#writeBack(table, entry, false);
      unwritten!.push(entry);
    }
    return false;
  }

  /**
   * Packs a changed entry: logs it for the next delta when dirty, and queues its write to the working database when
   * `store` (else marks it unwritten).
   */
  #writeBack(table: CachedTable, entry: CachedEntry, store: boolean): void {
    const packedKey = packValue(entry.key);
    const value = entry.value === undefined ? undefined : packStateValue(table.name, entry.key, entry.value);
    if (entry.dirty) this.#log?.add(entry.keyGroup - this.range.start, table.id, packedKey, value);
    entry.dirty = false;
    entry.unwritten = !store;
    if (store) {
      const write: PendingWrite = { key: storedKey(entry.keyGroup, table.id, packedKey), value, table, stateKey: entry.key };
      table.pending.set(entry.key, write);
      this.#open().enqueue(write);
    }
    if (value !== undefined) {
      this.#averagePacked += (value.length - this.#averagePacked) / 64;
      const bytes = entryBytes(value.length);
      this.#cacheBytes += bytes - entry.bytes;
      entry.bytes = bytes;
    }
  }

  #written(ops: readonly WriteOp[]): void {
    for (const op of ops as readonly PendingWrite[]) {
      if (op.table === undefined) continue; // a restore's write: no overlay
      if (op.table.pending.get(op.stateKey) === op) op.table.pending.delete(op.stateKey);
    }
  }

  /**
   * Evicts entries until the cache is at 90 % of its limit, taking turns between states, with a CLOCK per state:
   * an entry used since the hand last passed loses its mark and stays; an unmarked one goes (written back first
   * when dirty). At most two turns of a state's hand find one to evict.
   */
  #evict(): void {
    const target = this.#cacheLimit * 0.9;
    const tables = this.#tablesById;
    let idle = 0;
    while (this.#cacheBytes > target && idle < tables.length) {
      const table = tables[this.#evictFrom++ % tables.length]!;
      if (this.#evictSome(table, 256) === 0) idle++;
      else idle = 0;
    }
  }

  #evictSome(table: CachedTable, count: number): number {
    const entries = table.entries;
    let evicted = 0;
    let visited = 0;
    const limit = 2 * entries.size + 2;
    while (evicted < count && visited < limit) {
      const step = (table.hand ??= entries.values()).next();
      if (step.done === true) {
        table.hand = undefined;
        if (entries.size === 0) break;
        visited++;
        continue;
      }
      visited++;
      const entry = step.value;
      const key = entry.key;
      if (entry.ref) {
        entry.ref = false;
        continue;
      }
      if (entry.dirty || entry.unwritten) this.#writeBack(table, entry, true);
      entries.delete(key);
      this.#cacheBytes -= entry.bytes;
      evicted++;
    }
    this.#evictions += evicted;
    return evicted;
  }

  protected override createHandle(name: string, kind: StateKind): StateHandle {
    const table = this.#table(name, kind);
    return kind === 'value'
      ? new LevelDbValueState<unknown>(name, table, this)
      : kind === 'map'
        ? new LevelDbMapState<StateKey, unknown>(name, table, this)
        : new LevelDbListState<unknown>(name, table, this);
  }

  #table(name: string, kind: StateKind): CachedTable {
    const table = this.#tables.get(name);
    if (table !== undefined) {
      if (table.kind !== kind) throw kindMismatch(name, table.kind, kind);
      return table;
    }
    checkStateName(name);
    if (this.#tablesById.length >= 0xffff) {
      throw new SluiceError(StateErrorCodes.invalidName, `too many keyed states in one operator (${this.#tablesById.length}); merge some into map state`);
    }
    const created: CachedTable = { name, kind, id: this.#tablesById.length, entries: new Map(), pending: new Map(), hand: undefined };
    this.#tables.set(name, created);
    this.#tablesById.push(created);
    return created;
  }
}

import type { StateKey } from '../key-groups.ts';
import type { StateKind } from '../state-table.ts';
import type { WriteOp } from './working-store.ts';

/**
 * One key's state of one named state in the LevelDB backend's cache. `value` undefined means the key has no state
 * (known: read and absent, or cleared since) — so a key that is read again does not go to LevelDB.
 * @internal
 */
export interface CachedEntry {
  /** The entry's key (the Map's key): eviction and write-back walk the Map's values, which allocate no pairs. */
  readonly key: StateKey;
  readonly keyGroup: number;
  value: unknown;
  /**
   * Changed since it was last logged for a checkpoint (or possibly changed in place after a read): the next delta
   * must hold it, and the working database is behind too.
   */
  dirty: boolean;
  /**
   * Logged for a checkpoint but not yet written to the working database. An incremental snapshot logs a changed
   * entry without writing it: a hot key changes again before the next checkpoint, and writing it to LevelDB every
   * checkpoint cost more than all its updates. It is written when evicted, or when its key group is read for a full
   * blob.
   */
  unwritten: boolean;
  /** Clock bit: used since the eviction hand last passed, by a later record than the one that loaded it. */
  ref: boolean;
  /** Estimated heap bytes, counted in the cache's total. */
  bytes: number;
}

/** A write queued for the working database and not yet in it: reads of its key must see it. @internal */
export interface PendingWrite extends WriteOp {
  readonly table: CachedTable;
  readonly stateKey: StateKey;
}

/**
 * The cached entries of one named state, plus its overlay of queued writes. `id` is the state's 2-byte prefix in
 * working-database keys (assigned per backend; the working database does not outlive it).
 * @internal
 */
export interface CachedTable {
  readonly name: string;
  readonly kind: StateKind;
  readonly id: number;
  readonly entries: Map<StateKey, CachedEntry>;
  readonly pending: Map<StateKey, PendingWrite>;
  /** The clock hand: where the next eviction pass over `entries` resumes (Map iterators survive deletes). */
  hand: Iterator<CachedEntry> | undefined;
}

/**
 * Fixed heap cost of one cached entry, estimated: the entry object, its Map slot and the key string (~50–70 bytes
 * each in V8). Values count as twice their packed size (decoded objects are larger than msgpack).
 */
export const ENTRY_OVERHEAD_BYTES = 160;

/** Estimated heap bytes of an entry whose value packs to `packedBytes`. @internal */
export function entryBytes(packedBytes: number): number {
  return ENTRY_OVERHEAD_BYTES + 2 * packedBytes;
}

/** Whether a value read from state may be changed in place by the caller (so reading it must count as a write). @internal */
export function mutable(value: unknown): boolean {
  return typeof value === 'object' && value !== null;
}

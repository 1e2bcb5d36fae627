import type { KeyGroupRange, StateKey } from '../key-groups.ts';
import { stateKeyOf, unpackValue, writeKeyPrefix } from './stored-bytes.ts';
import { ResumableWalk } from '../ttl/resumable-walk.ts';
import type { CachedEntry, CachedTable } from './cached-table.ts';
import type { WorkingStore } from './working-store.ts';

/** Candidates held at most; the scan waits for them to be taken before it reads on. */
const MAX_QUEUED = 4_096;
/**
 * Processing time between the starts of two scans, at least: a scan reads every key's time, so back-to-back scans of
 * a large state that is not expiring would keep the database busy for nothing. A key is removed at most this long
 * (plus a scan) after it expired; it is never read expired meanwhile.
 */
export const TTL_SCAN_EVERY_MS = 10_000;

/**
 * Finds the keys of a TTL'd state that may have expired in the LevelDB backend, so that keys no record reads again
 * are removed too, not only found when read (the heap backend sweeps its tables instead). The last-use times are
 * the state's companion (`ttlStampsName`): the cached ones are walked a few per call; a background scan reads those
 * evicted and still queued for writing, then the working database's rows key group by key group, and queues the keys
 * whose time was at or before the cutoff it started with (a key may be queued twice: the second check finds nothing).
 * The operator takes a few keys after each batch and asks each key's state handle whether it expired, which reads the
 * key's time as the cache holds it (a newer write may not be stored yet) and removes the state and its time if so: a
 * removal like any other, a tombstone in the next incremental checkpoint. Another scan starts, with the cutoff of
 * that moment, once the queue is empty and {@link TTL_SCAN_EVERY_MS} of processing time has passed.
 * @internal
 */
export class LevelDbTtlScan {
  readonly #queue: StateKey[] = [];
  #scanning: Promise<void> | undefined;
  #failure: unknown;
  #stopped = false;
  /** The cutoff the last scan started with (cutoffs advance with processing time). */
  #lastCutoff = Number.NEGATIVE_INFINITY;
  /** Resolves a scan waiting for room in the queue. */
  #room: (() => void) | undefined;

  /** Where the walk of the cached times resumes. */
  readonly #cached: ResumableWalk<CachedEntry>;

  constructor(
    readonly store: WorkingStore,
    readonly stamps: CachedTable,
    readonly range: KeyGroupRange,
  ) {
    this.#cached = new ResumableWalk(stamps.entries);
  }

  /**
   * Up to `max` keys whose time was at or before a cutoff: first those of the cached times (a walk of at most `max`
   * of them, at `cutoff`), then those a scan queued. Starts a scan (with `cutoff`) when none is queued and the last
   * one started {@link TTL_SCAN_EVERY_MS} or more before.
   */
  take(cutoff: number, max: number): StateKey[] {
    if (this.#failure !== undefined) throw this.#failure;
    const idle: StateKey[] = [];
    this.#cached.walk(max, (entry) => {
      if (typeof entry.value === 'number' && entry.value <= cutoff) idle.push(entry.key);
    });
    if (idle.length >= max) return idle;
    const taken = this.#queue.splice(0, max - idle.length);
    if (this.#queue.length < MAX_QUEUED) this.#room?.();
    if (taken.length === 0 && this.#scanning === undefined && !this.#stopped && cutoff - this.#lastCutoff >= TTL_SCAN_EVERY_MS) {
      this.#lastCutoff = cutoff;
      this.#scanning = this.#scan(cutoff).then(
        () => (this.#scanning = undefined),
        (err: unknown) => {
          this.#failure = err;
          this.#scanning = undefined;
        },
      );
    }
    for (const key of taken) idle.push(key);
    return idle;
  }

  /** Stops the scan and waits for it (before the working database closes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#room?.();
    await this.#scanning;
  }

  async #scan(cutoff: number): Promise<void> {
    // Times evicted from the cache whose write is still queued are read from the queue: the database has not got them.
    for (const [key, write] of this.stamps.pending) {
      if (write.value !== undefined && (unpackValue(write.value) as number) <= cutoff) this.#queue.push(key);
    }
    const gte = new Uint8Array(4);
    const lt = new Uint8Array(4);
    for (let keyGroup = this.range.start; keyGroup <= this.range.end && !this.#stopped; keyGroup++) {
      writeKeyPrefix(gte, 0, keyGroup, this.stamps.id);
      writeKeyPrefix(lt, 0, keyGroup, this.stamps.id + 1);
      for await (const rows of this.store.scan(gte, lt)) {
        for (const [key, value] of rows) if ((unpackValue(value) as number) <= cutoff) this.#queue.push(stateKeyOf(key));
        while (this.#queue.length >= MAX_QUEUED && !this.#stopped) await new Promise<void>((resolve) => (this.#room = resolve));
        this.#room = undefined;
        if (this.#stopped) break;
      }
    }
  }
}

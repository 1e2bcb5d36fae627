import { SluiceError } from '../errors/index.ts';
import { CurrentKey } from './current-key.ts';
import { validateKeyGroupRange, type KeyGroupRange, type StateKey } from './key-groups.ts';
import { KeyedTimerQueue, type DueTimer, type DueTimerGroup } from './keyed-timer-queue.ts';
import type { KeyedStateBackend, KeyedStateMetrics, KeyedStateSnapshot } from './keyed-state-backend.ts';
import type { ListState } from './list-state.ts';
import type { MapState } from './map-state.ts';
import { StateErrorCodes } from './state-errors.ts';
import { kindMismatch, type StateKind } from './state-table.ts';
import type { ValueState } from './value-state.ts';
import type { RestoreInput } from './snapshots/owned-chains.ts';

/** A state handle as a backend hands it out. @internal */
export type StateHandle = ValueState<unknown> | MapState<StateKey, unknown> | ListState<unknown>;

/**
 * What every keyed state backend shares: the key group range, the current key, and processing- and event-time
 * timers, which live in the heap in every backend (as in Flink's RocksDB backend with heap timers: timers are few
 * beside state, and firing must not wait for disk). Backends add where the state itself lives and how it is
 * snapshotted.
 * @internal
 */
export abstract class KeyedBackendBase implements KeyedStateBackend {
  protected readonly current: CurrentKey;
  protected readonly timers = new KeyedTimerQueue();
  protected readonly eventTimers = new KeyedTimerQueue();
  readonly #maxParallelism: number;
  readonly #range: KeyGroupRange;
  readonly #handles = new Map<string, { readonly kind: StateKind; readonly handle: StateHandle }>();

  constructor(maxParallelism: number, range: KeyGroupRange) {
    validateKeyGroupRange(range, maxParallelism);
    this.#maxParallelism = maxParallelism;
    this.#range = { start: range.start, end: range.end };
    this.current = new CurrentKey(maxParallelism, this.#range);
  }

  abstract readonly incremental: boolean;
  abstract snapshot(checkpointId?: number): Promise<KeyedStateSnapshot>;
  abstract restore(keyGroups: RestoreInput, fromCheckpoint?: number): Promise<void>;
  abstract keysWithState(name: string): StateKey[];
  abstract metrics(): KeyedStateMetrics;
  abstract close(): Promise<void>;

  backpressure(): Promise<void> | undefined {
    return undefined;
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

  /**
   * A new handle of state `name` of `kind`, on first use of the name (the backend checks the name, and that a state
   * restored under it has that kind).
   */
  protected abstract createHandle(name: string, kind: StateKind): StateHandle;

  #handle(name: string, kind: StateKind): StateHandle {
    const existing = this.#handles.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind) throw kindMismatch(name, existing.kind, kind);
      return existing.handle;
    }
    const handle = this.createHandle(name, kind);
    this.#handles.set(name, { kind, handle });
    return handle;
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
    this.current.set(key);
  }

  get currentKey(): StateKey | undefined {
    return this.current.key;
  }

  /** Registers a processing-time timer at `timestamp` for the current key (once per key and timestamp). */
  registerTimer(timestamp: number): void {
    checkTimestamp(timestamp);
    const key = this.current.require('');
    this.timers.add(key, this.current.keyGroup(), timestamp);
  }

  /** Deletes the current key's timer at `timestamp`, if any. */
  deleteTimer(timestamp: number): void {
    this.timers.delete(this.current.require(''), timestamp);
  }

  /** Timestamp of the earliest timer, or `undefined` when there is none. */
  nextTimerTimestamp(): number | undefined {
    return this.timers.next();
  }

  /** Removes and returns the timers with `timestamp <= now`, in timestamp order (registration order within one). */
  pollDueTimers(now: number): DueTimer[] {
    return this.timers.pollDue(now);
  }

  /** As {@link pollDueTimers}, grouped by timestamp (one object per timestamp, not per timer). */
  pollDueTimerGroups(now: number): DueTimerGroup[] {
    return this.timers.pollDueGroups(now);
  }

  /** Number of pending processing-time timers. */
  timerCount(): number {
    return this.timers.size;
  }

  /** Registers an event-time timer at `timestamp` for the current key; it fires once the watermark reaches it. */
  registerEventTimeTimer(timestamp: number): void {
    checkTimestamp(timestamp);
    const key = this.current.require('');
    this.eventTimers.add(key, this.current.keyGroup(), timestamp);
  }

  /** Deletes the current key's event-time timer at `timestamp`, if any. */
  deleteEventTimeTimer(timestamp: number): void {
    this.eventTimers.delete(this.current.require(''), timestamp);
  }

  /** Removes and returns the event-time timers with `timestamp <= watermark`, in timestamp order. */
  pollDueEventTimeTimers(watermark: number): DueTimer[] {
    return this.eventTimers.pollDue(watermark);
  }

  /** As {@link pollDueEventTimeTimers}, grouped by timestamp. */
  pollDueEventTimeTimerGroups(watermark: number): DueTimerGroup[] {
    return this.eventTimers.pollDueGroups(watermark);
  }

  /** Timestamp of the earliest event-time timer, or `undefined` when there is none. */
  nextEventTimeTimerTimestamp(): number | undefined {
    return this.eventTimers.next();
  }

  /** Number of pending event-time timers. */
  eventTimeTimerCount(): number {
    return this.eventTimers.size;
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

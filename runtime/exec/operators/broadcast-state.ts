import type { ReadOnlyMapState } from '../../api/index.ts';
import type { MapState, StateKey } from '../../state/index.ts';

/** Broadcast state as checkpoints hold it: each declared map's entries, by name. */
export type StoredBroadcastState = Record<string, Array<[StateKey, unknown]>>;

/**
 * The broadcast maps of one operator subtask: one JS `Map` per declared name, with a writable face for
 * `processBroadcastElement` and a read-only one for the keyed side (whose writes would make subtasks diverge).
 */
export class BroadcastState {
  readonly #maps = new Map<string, Map<StateKey, unknown>>();
  /** What `processBroadcastElement` gets as `ctx.broadcast`. */
  readonly writable: Record<string, MapState<StateKey, unknown>> = {};
  /** What `processElement` and `onTimer` get as `ctx.broadcast`. */
  readonly readOnly: Record<string, ReadOnlyMapState<StateKey, unknown>> = {};

  constructor(names: readonly string[]) {
    for (const name of names) {
      const map = new Map<StateKey, unknown>();
      this.#maps.set(name, map);
      const view: ReadOnlyMapState<StateKey, unknown> = {
        get: (k) => map.get(k),
        has: (k) => map.has(k),
        entries: () => map.entries(),
        keys: () => map.keys(),
        values: () => map.values(),
        size: () => map.size,
      };
      this.readOnly[name] = Object.freeze(view);
      this.writable[name] = Object.freeze({
        ...view,
        put: (k: StateKey, v: unknown) => void map.set(k, v),
        remove: (k: StateKey) => void map.delete(k),
        clear: () => map.clear(),
      });
    }
  }

  toStored(): StoredBroadcastState {
    const stored: StoredBroadcastState = {};
    for (const [name, map] of this.#maps) stored[name] = [...map.entries()];
    return stored;
  }

  /** Replaces the maps with a checkpoint's; names no longer declared are dropped, new ones start empty. */
  restore(stored: StoredBroadcastState): void {
    for (const [name, map] of this.#maps) {
      map.clear();
      for (const [k, v] of stored[name] ?? []) map.set(k, v);
    }
  }
}

import { SluiceError } from '../errors/index.ts';
import { keyGroupOf, type KeyGroupRange, type StateKey } from './key-groups.ts';
import { StateErrorCodes } from './state-errors.ts';

/**
 * The key the executor is processing, shared by one backend and all of its state handles.
 *
 * The key group is computed lazily, only when a handle inserts a key that is new to a state (or registers a timer):
 * reads and updates of existing keys never hash. Keys from Kafka are mostly fresh strings, and hashing one costs
 * about as much as the Map lookup itself, so hashing on every `setCurrentKey` would roughly double the state cost.
 * @internal
 */
export class CurrentKey {
  /** Read directly by the handles on the hot path; `undefined` until the executor sets a key. */
  key: StateKey | undefined = undefined;
  /**
   * Snapshot epoch: handles stamp it on every entry they read or write (`Entry.touched`), and the backend advances it
   * when it takes a snapshot, so the entries touched since then are those stamped with the current epoch.
   */
  epoch = 1;
  #keyGroup = -1;
  readonly #maxParallelism: number;
  readonly #range: KeyGroupRange;

  constructor(maxParallelism: number, range: KeyGroupRange) {
    this.#maxParallelism = maxParallelism;
    this.#range = range;
  }

  set(key: StateKey): void {
    if (typeof key !== 'string' && typeof key !== 'number') {
      throw new SluiceError(
        StateErrorCodes.invalidKey,
        `state key ${describe(key)} is neither a string nor a number; make keyBy() return a string or a number`,
        { retriable: false }, // a restart replays the record that carried it
      );
    }
    this.key = key;
    this.#keyGroup = -1;
  }

  /** Key group of the current key; computed on first use after each `set`, and checked against the range. */
  keyGroup(): number {
    if (this.#keyGroup >= 0) return this.#keyGroup;
    const key = this.require('');
    const g = keyGroupOf(key, this.#maxParallelism);
    if (g < this.#range.start || g > this.#range.end) {
      throw new SluiceError(
        StateErrorCodes.keyOutOfRange,
        `key ${JSON.stringify(key)} belongs to key group ${g}, outside this subtask's range ` +
          `[${this.#range.start}, ${this.#range.end}] (maxParallelism ${this.#maxParallelism}); ` +
          `the record was routed to the wrong subtask: route keyed records with ownerOfKeyGroup(keyGroupOf(key))`,
      );
    }
    this.#keyGroup = g;
    return g;
  }

  /** The current key, or a SluiceError naming the state `name` when there is none. */
  require(name: string): StateKey {
    const key = this.key;
    if (key === undefined) {
      throw new SluiceError(
        StateErrorCodes.noCurrentKey,
        `keyed state${name === '' ? '' : ` "${name}"`} was used with no current key; ` +
          `keyed state and timers are only available while processing a keyed record or timer`,
      );
    }
    return key;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `of type ${value.constructor?.name ?? 'object'}`;
  return `${String(value)} (${typeof value})`;
}

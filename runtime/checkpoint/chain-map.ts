import { SluiceError } from '../errors/index.ts';

/**
 * One blob of a chain: its bytes, or a function that reads them when the chain is read (a checkpoint loaded from the
 * store reads each key group's blobs when that key group is restored, so loading a checkpoint does not hold it).
 * @internal
 */
export type ChainPart = Uint8Array | (() => Uint8Array);

/**
 * One operator's keyed state in a loaded checkpoint, by key group: each key group's chain (its full blob, then its
 * deltas) as one byte string, concatenated when it is read rather than all at once. A restore at parallelism p reads
 * only the key groups each subtask owns, so the chains are concatenated once in all instead of once per subtask, and
 * a subtask that has restored keeps none of them alive (measured: a 10M-key checkpoint held ~700 MiB of copies for
 * the attempt's life when every subtask got every chain concatenated up front).
 * @internal
 */
export class ChainMap implements ReadonlyMap<number, Uint8Array> {
  readonly #segments: Map<number, readonly ChainPart[]>;
  /** Every key group, read or not (a map rather than a set: `keys()` must give a map's iterator). */
  readonly #keyGroups: ReadonlyMap<number, true>;
  /** Read-once maps: the key groups already handed out. */
  readonly #taken: Set<number> | undefined;

  /**
   * `segments`: each key group's blobs in chain order (full blob first); the map is the chain map's from now on (a
   * read-once map deletes from it). `readOnce`: hand each chain out once and then let go of its bytes — what an
   * attempt restores from, so that its subtasks' restores free the checkpoint as they go (each key group has one
   * owner); a second read of a key group fails loudly instead of restoring it empty.
   */
  constructor(segments: Map<number, readonly ChainPart[]>, readOnce = false) {
    this.#segments = segments;
    this.#keyGroups = new Map([...segments.keys()].map((keyGroup) => [keyGroup, true]));
    this.#taken = readOnce ? new Set() : undefined;
  }

  get size(): number {
    return this.#keyGroups.size;
  }

  has(keyGroup: number): boolean {
    return this.#keyGroups.has(keyGroup);
  }

  /** The key group's chain, concatenated now (a chain of one blob is that blob). */
  get(keyGroup: number): Uint8Array | undefined {
    const parts = this.#segments.get(keyGroup);
    if (parts === undefined) {
      if (this.#taken?.has(keyGroup) === true) {
        throw new SluiceError('SLUICE_INTERNAL', `the restored state of key group ${keyGroup} was read twice from a read-once checkpoint: a second subtask would restore it`, { retriable: false });
      }
      return undefined;
    }
    if (this.#taken !== undefined) {
      this.#segments.delete(keyGroup);
      this.#taken.add(keyGroup);
    }
    const bytes = parts.map((part) => (typeof part === 'function' ? part() : part));
    return bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes);
  }

  keys(): MapIterator<number> {
    return this.#keyGroups.keys();
  }

  *values(): MapIterator<Uint8Array> {
    for (const keyGroup of this.#keyGroups.keys()) yield this.get(keyGroup)!;
  }

  *entries(): MapIterator<[number, Uint8Array]> {
    for (const keyGroup of this.#keyGroups.keys()) yield [keyGroup, this.get(keyGroup)!];
  }

  [Symbol.iterator](): MapIterator<[number, Uint8Array]> {
    return this.entries();
  }

  forEach(callback: (value: Uint8Array, key: number, map: ReadonlyMap<number, Uint8Array>) => void, thisArg?: unknown): void {
    for (const [keyGroup, chain] of this.entries()) callback.call(thisArg, chain, keyGroup, this);
  }
}

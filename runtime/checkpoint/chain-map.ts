/**
 * One operator's keyed state in a loaded checkpoint, by key group: each key group's chain (its full blob, then its
 * deltas) as one byte string, concatenated when it is read rather than all at once. A restore at parallelism p reads
 * only the key groups each subtask owns, so the chains are concatenated once in all instead of once per subtask, and
 * a subtask that has restored keeps none of them alive (measured: a 10M-key checkpoint held ~700 MiB of copies for
 * the attempt's life when every subtask got every chain concatenated up front).
 * @internal
 */
export class ChainMap implements ReadonlyMap<number, Uint8Array> {
  readonly #segments: ReadonlyMap<number, readonly Uint8Array[]>;

  /** `segments`: each key group's blobs in chain order (full blob first). */
  constructor(segments: ReadonlyMap<number, readonly Uint8Array[]>) {
    this.#segments = segments;
  }

  get size(): number {
    return this.#segments.size;
  }

  has(keyGroup: number): boolean {
    return this.#segments.has(keyGroup);
  }

  /** The key group's chain, concatenated now (a chain of one blob is that blob). */
  get(keyGroup: number): Uint8Array | undefined {
    const parts = this.#segments.get(keyGroup);
    if (parts === undefined) return undefined;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  keys(): MapIterator<number> {
    return this.#segments.keys();
  }

  *values(): MapIterator<Uint8Array> {
    for (const keyGroup of this.#segments.keys()) yield this.get(keyGroup)!;
  }

  *entries(): MapIterator<[number, Uint8Array]> {
    for (const keyGroup of this.#segments.keys()) yield [keyGroup, this.get(keyGroup)!];
  }

  [Symbol.iterator](): MapIterator<[number, Uint8Array]> {
    return this.entries();
  }

  forEach(callback: (value: Uint8Array, key: number, map: ReadonlyMap<number, Uint8Array>) => void, thisArg?: unknown): void {
    for (const [keyGroup, chain] of this.entries()) callback.call(thisArg, chain, keyGroup, this);
  }
}

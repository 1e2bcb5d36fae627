/**
 * One scratch buffer, with a view of each length asked for (kept: a view costs as much to make as an array): the
 * arrays a restore fills for each key and value before it hands them to its `TableLoad`, which copies them.
 * @internal
 */
export class ScratchBytes {
  readonly #buffer: ArrayBuffer;
  readonly #views: (Uint8Array | undefined)[] = [];

  constructor(readonly capacity: number) {
    this.#buffer = new ArrayBuffer(capacity);
  }

  of(length: number): Uint8Array {
    if (length > this.capacity) return new Uint8Array(length);
    return (this.#views[length] ??= new Uint8Array(this.#buffer, 0, length));
  }
}

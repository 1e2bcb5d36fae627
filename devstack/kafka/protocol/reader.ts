/**
 * Reads Kafka's classic (non-flexible) primitive types from one request frame.
 *
 * Every read is bounds-checked and throws {@link ProtocolError} on a short frame: the server catches it and closes
 * that connection only. `bytes()` returns a view into the frame (no copy), so record batches received in a Produce
 * are stored as the very bytes that arrived.
 */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const TWO_POW_32 = 4294967296;

export class Reader {
  readonly #buf: Buffer;
  #pos: number;
  readonly #end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  get offset(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  #need(n: number): number {
    const at = this.#pos;
    if (n < 0 || at + n > this.#end) {
      throw new ProtocolError(`frame truncated: need ${n} bytes at offset ${at}, ${this.#end - at} left`);
    }
    this.#pos = at + n;
    return at;
  }

  int8(): number {
    return this.#buf.readInt8(this.#need(1));
  }

  int16(): number {
    return this.#buf.readInt16BE(this.#need(2));
  }

  int32(): number {
    return this.#buf.readInt32BE(this.#need(4));
  }

  /** int64 as a JS number: offsets, producer ids and timestamps stay far below 2^53 in a devstack broker. */
  int64(): number {
    const at = this.#need(8);
    return this.#buf.readInt32BE(at) * TWO_POW_32 + this.#buf.readUInt32BE(at + 4);
  }

  boolean(): boolean {
    return this.int8() !== 0;
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new ProtocolError('null where a non-nullable string was expected');
    return s;
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len === -1) return null;
    const at = this.#need(len);
    return this.#buf.toString('utf8', at, at + len);
  }

  /** A view into the frame, not a copy. */
  bytes(): Buffer {
    const b = this.nullableBytes();
    if (b === null) throw new ProtocolError('null where non-nullable bytes were expected');
    return b;
  }

  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    const at = this.#need(len);
    return this.#buf.subarray(at, at + len);
  }

  array<T>(item: (r: Reader) => T): T[] {
    const a = this.nullableArray(item);
    if (a === null) throw new ProtocolError('null where a non-nullable array was expected');
    return a;
  }

  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const n = this.int32();
    if (n === -1) return null;
    // Each element takes at least one byte; refuse absurd counts before allocating.
    if (n < 0 || n > this.remaining) throw new ProtocolError(`array length ${n} exceeds the frame`);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = item(this);
    return out;
  }
}

/**
 * Builds one response frame: `int32 size, int32 correlation_id, body`.
 *
 * Scalars go into a growing scratch buffer; large byte fields (record sets in Fetch) are kept as references and
 * stitched together once in {@link Writer.finish}, so a fetched batch is copied exactly once on its way to the socket
 * and the whole response leaves in a single `socket.write`.
 */
const TWO_POW_32 = 4294967296;
/** Byte fields at least this big are referenced, not copied into the scratch buffer. */
const REFERENCE_THRESHOLD = 512;

export class Writer {
  #chunks: Buffer[] = [];
  #buf: Buffer;
  #pos = 0;
  #start = 0;
  #total = 0;

  constructor(initial = 256) {
    this.#buf = Buffer.allocUnsafe(initial);
  }

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    this.#seal();
    this.#buf = Buffer.allocUnsafe(Math.max(n, this.#buf.length * 2));
    this.#pos = 0;
    this.#start = 0;
  }

  /** Moves the written part of the scratch buffer into the chunk list. */
  #seal(): void {
    if (this.#pos > this.#start) {
      this.#chunks.push(this.#buf.subarray(this.#start, this.#pos));
      this.#total += this.#pos - this.#start;
      this.#start = this.#pos;
    }
  }

  int8(v: number): this {
    this.#room(1);
    this.#buf.writeInt8(v, this.#pos);
    this.#pos += 1;
    return this;
  }

  int16(v: number): this {
    this.#room(2);
    this.#buf.writeInt16BE(v, this.#pos);
    this.#pos += 2;
    return this;
  }

  int32(v: number): this {
    this.#room(4);
    this.#buf.writeInt32BE(v, this.#pos);
    this.#pos += 4;
    return this;
  }

  uint32(v: number): this {
    this.#room(4);
    this.#buf.writeUInt32BE(v, this.#pos);
    this.#pos += 4;
    return this;
  }

  int64(v: number): this {
    this.#room(8);
    const hi = Math.floor(v / TWO_POW_32);
    this.#buf.writeInt32BE(hi, this.#pos);
    this.#buf.writeUInt32BE(v - hi * TWO_POW_32, this.#pos + 4);
    this.#pos += 8;
    return this;
  }

  boolean(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  string(s: string): this {
    return this.nullableString(s);
  }

  nullableString(s: string | null): this {
    if (s === null) return this.int16(-1);
    const len = Buffer.byteLength(s);
    this.#room(2 + len);
    this.#buf.writeInt16BE(len, this.#pos);
    this.#buf.write(s, this.#pos + 2, len, 'utf8');
    this.#pos += 2 + len;
    return this;
  }

  bytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    return this.raw(b);
  }

  /** Several buffers written as one `bytes` field (e.g. consecutive record batches). */
  bytesList(parts: readonly Buffer[]): this {
    let len = 0;
    for (const p of parts) len += p.length;
    this.int32(len);
    for (const p of parts) this.raw(p);
    return this;
  }

  raw(b: Buffer): this {
    if (b.length >= REFERENCE_THRESHOLD) {
      this.#seal();
      this.#chunks.push(b);
      this.#total += b.length;
      return this;
    }
    this.#room(b.length);
    b.copy(this.#buf, this.#pos);
    this.#pos += b.length;
    return this;
  }

  array<T>(items: readonly T[], item: (w: Writer, v: T) => void): this {
    this.int32(items.length);
    for (const v of items) item(this, v);
    return this;
  }

  nullableArray<T>(items: readonly T[] | null, item: (w: Writer, v: T) => void): this {
    if (items === null) return this.int32(-1);
    return this.array(items, item);
  }

  get length(): number {
    return this.#total + this.#pos - this.#start;
  }

  /** All written bytes as one buffer (a single copy when there is more than one chunk). */
  toBuffer(): Buffer {
    this.#seal();
    if (this.#chunks.length === 1) return this.#chunks[0] as Buffer;
    return Buffer.concat(this.#chunks, this.#total);
  }
}

/** Starts a response frame; call {@link finishFrame} once the body is written. */
export function startFrame(correlationId: number, initial?: number): Writer {
  const w = new Writer(initial);
  w.int32(0).int32(correlationId);
  return w;
}

/** Patches the size prefix and returns the frame ready for one `socket.write`. */
export function finishFrame(w: Writer): Buffer {
  const buf = w.toBuffer();
  buf.writeInt32BE(buf.length - 4, 0);
  return buf;
}

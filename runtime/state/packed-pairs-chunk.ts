import type { SluiceError } from '../errors/index.ts';
import { CHUNK_PAIRS, corruptSnapshot, packElement, unpackElement } from './keyed-snapshot-format.ts';
import type { StateKind } from './state-table.ts';

/**
 * The packed-pairs chunk of the keyed snapshot format, and a writer of blobs made of already-packed bytes.
 *
 * ```
 * packedPairs := ['p', name, kind, k0, v0, k1, v1, …]   each kᵢ, vᵢ a msgpack bin holding one msgpack value packed
 *                                                        on its own (its msgpackr records defined inside it)
 * ```
 *
 * It says what a state chunk (`['s', …]`) says, in a form a reader can copy without decoding: the LevelDB backend
 * stores every key and value as exactly these bytes, so its snapshots copy them in and its restores copy them out
 * (decoding and re-packing 10M values cost ~2 µs each; copying ~0.1 µs). A state chunk cannot be cut apart that way:
 * its values share msgpackr record definitions. Any msgpack reader sees the chunk as an array of byte strings.
 *
 * The writer gives every chunk a 5-byte array header (array 32) and fills in its length when the chunk closes;
 * msgpack readers accept a header longer than needed.
 */

const ARRAY32 = 0xdd;
const PACKED_TAG = 0x70; // 'p'
const TOMBSTONE_TAG = 0x78; // 'x'
const FIXSTR_1 = 0xa1;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A packed-pairs chunk found in a blob: its elements are bins from `start` to `end` of `bytes`. @internal */
export interface PackedPairs {
  readonly name: string;
  readonly kind: StateKind;
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
  readonly pairs: number;
}

/** True when the value at `offset` of `blob` is an array whose first element is the string 'p'. @internal */
export function isPackedPairsChunk(blob: Uint8Array, offset: number): boolean {
  const head = blob[offset];
  const at = head === ARRAY32 ? offset + 5 : head === 0xdc ? offset + 3 : head !== undefined && head >= 0x90 && head <= 0x9f ? offset + 1 : -1;
  return at > 0 && blob[at] === FIXSTR_1 && blob[at + 1] === PACKED_TAG;
}

/**
 * Reads the packed-pairs chunk at `offset` (where {@link isPackedPairsChunk} is true): its state, its pairs' place,
 * and where the next value starts. Every element is checked to be a bin inside the blob.
 * @internal
 */
export function readPackedPairs(keyGroup: number, blob: Uint8Array, offset: number): PackedPairs {
  const cursor = new Cursor(keyGroup, blob, offset);
  const elements = cursor.arrayLength();
  if (elements < 3 || (elements - 3) % 2 !== 0) throw cursor.corrupt(`a packed-pairs chunk of ${elements} elements`);
  cursor.str(); // 'p'
  const name = cursor.str();
  const kind = cursor.str();
  if (kind !== 'value' && kind !== 'map' && kind !== 'list') throw cursor.corrupt(`unknown state kind ${JSON.stringify(kind)}`);
  const start = cursor.at;
  for (let i = 3; i < elements; i++) cursor.bin();
  return { name, kind, bytes: blob, start, end: cursor.at, pairs: (elements - 3) / 2 };
}

/**
 * Calls `pair` with the byte ranges of each key and value of `chunk`, in order (no copies: ranges of `chunk.bytes`).
 * @internal
 */
export function forEachPackedPair(chunk: PackedPairs, pair: (keyStart: number, keyEnd: number, valueStart: number, valueEnd: number) => void): void {
  const bytes = chunk.bytes;
  let at = chunk.start;
  while (at < chunk.end) {
    const keyStart = binStart(bytes, at);
    const keyEnd = keyStart + binLength(bytes, at);
    const valueStart = binStart(bytes, keyEnd);
    const valueEnd = valueStart + binLength(bytes, keyEnd);
    pair(keyStart, keyEnd, valueStart, valueEnd);
    at = valueEnd;
  }
}

/** The chunk's pairs decoded, as a state chunk holds them: `[k0, v0, k1, v1, …]`. @internal */
export function unpackPairs(keyGroup: number, chunk: PackedPairs): unknown[] {
  const out: unknown[] = [];
  forEachPackedPair(chunk, (ks, ke, vs, ve) => {
    try {
      out.push(unpackElement(chunk.bytes.subarray(ks, ke)), unpackElement(chunk.bytes.subarray(vs, ve)));
    } catch (err) {
      throw corruptSnapshot(keyGroup, `cannot decode a pair of state ${chunk.name} at byte ${ks}`, err);
    }
  });
  return out;
}

/** Where the bytes of the bin whose header is at `at` start. @internal */
export function binStart(bytes: Uint8Array, at: number): number {
  const head = bytes[at];
  return head === 0xc4 ? at + 2 : head === 0xc5 ? at + 3 : at + 5;
}

/** The length of the bin whose header is at `at`. @internal */
export function binLength(bytes: Uint8Array, at: number): number {
  const head = bytes[at];
  if (head === 0xc4) return bytes[at + 1]!;
  if (head === 0xc5) return (bytes[at + 1]! << 8) | bytes[at + 2]!;
  return ((bytes[at + 1]! << 24) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!) >>> 0;
}

/** Reads msgpack headers at a position, with bounds checks. */
class Cursor {
  constructor(
    readonly keyGroup: number,
    readonly bytes: Uint8Array,
    public at: number,
  ) {}

  arrayLength(): number {
    const head = this.#byte();
    if (head >= 0x90 && head <= 0x9f) return head & 0x0f;
    if (head === 0xdc) return this.#uint(2);
    if (head === ARRAY32) return this.#uint(4);
    throw this.corrupt('expected an array');
  }

  str(): string {
    const head = this.#byte();
    const length = head >= 0xa0 && head <= 0xbf ? head & 0x1f : head === 0xd9 ? this.#uint(1) : head === 0xda ? this.#uint(2) : head === 0xdb ? this.#uint(4) : -1;
    if (length < 0) throw this.corrupt('expected a string');
    const from = this.#skip(length);
    try {
      return utf8.decode(this.bytes.subarray(from, from + length));
    } catch (err) {
      throw this.corrupt('a string is not UTF-8', err);
    }
  }

  bin(): void {
    const head = this.#byte();
    const length = head === 0xc4 ? this.#uint(1) : head === 0xc5 ? this.#uint(2) : head === 0xc6 ? this.#uint(4) : -1;
    if (length < 1) throw this.corrupt('expected a packed key or value (a non-empty bin)');
    this.#skip(length);
  }

  corrupt(what: string, cause?: unknown): SluiceError {
    return corruptSnapshot(this.keyGroup, `${what} at byte ${this.at}`, cause);
  }

  #byte(): number {
    return this.bytes[this.#skip(1)]!;
  }

  #uint(width: number): number {
    const from = this.#skip(width);
    let n = 0;
    for (let i = 0; i < width; i++) n = n * 256 + this.bytes[from + i]!;
    return n;
  }

  /** Moves past `length` bytes; returns where they start. */
  #skip(length: number): number {
    const from = this.at;
    if (from + length > this.bytes.length) throw this.corrupt(`a value runs past the end of the blob (${length} bytes needed)`);
    this.at = from + length;
    return from;
  }
}

/** The chunk a {@link RawBlobWriter} is filling: where its length goes, its elements so far, and what it holds. */
interface OpenChunk {
  readonly lengthAt: number;
  elements: number;
  entries: number;
  readonly tag: number;
  readonly name: string;
}

/**
 * Writes one blob from bytes packed elsewhere: a header, packed-pairs chunks (`pair`), tombstone chunks whose keys
 * are packed on their own (`tombstone`), and whole chunks (`packed`), into one growing buffer. A new chunk starts
 * when the state or the chunk type changes, or at {@link CHUNK_PAIRS} entries, so a key written, deleted and written
 * again within one delta reads back in that order.
 * @internal
 */
export class RawBlobWriter {
  #bytes: Uint8Array;
  #length = 0;
  #open: OpenChunk | undefined;

  constructor(header: Uint8Array, capacity = 64 * 1024) {
    this.#bytes = new Uint8Array(Math.max(capacity, header.length));
    this.#write(header);
  }

  /** Adds a pair (key and value each one packed msgpack value) to state `name`. */
  pair(name: string, kind: StateKind, packedKey: Uint8Array, packedValue: Uint8Array): void {
    const chunk = this.#chunk(PACKED_TAG, name, kind);
    this.#bin(packedKey);
    this.#bin(packedValue);
    chunk.elements += 2;
    chunk.entries++;
  }

  /** Adds a tombstone for state `name`. */
  tombstone(name: string, kind: StateKind, packedKey: Uint8Array): void {
    const chunk = this.#chunk(TOMBSTONE_TAG, name, kind);
    this.#write(packedKey);
    chunk.elements++;
    chunk.entries++;
  }

  /** Adds a chunk packed elsewhere (timers, a timer reset). */
  packed(bytes: Uint8Array): void {
    this.#close();
    this.#write(bytes);
  }

  /** The blob's bytes (a copy the size of the blob). */
  finish(): Uint8Array {
    this.#close();
    return this.#bytes.slice(0, this.#length);
  }

  #chunk(tag: number, name: string, kind: StateKind): OpenChunk {
    const open = this.#open;
    if (open !== undefined && open.tag === tag && open.name === name && open.entries < CHUNK_PAIRS) return open;
    this.#close();
    const lengthAt = this.#length + 1;
    this.#write(CHUNK_HEAD);
    this.#write(tag === PACKED_TAG ? PACKED_TAG_BYTES : TOMBSTONE_TAG_BYTES);
    this.#write(packElement(name));
    this.#write(packElement(kind));
    this.#open = { lengthAt, elements: 3, entries: 0, tag, name };
    return this.#open;
  }

  #close(): void {
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    const n = open.elements;
    const at = open.lengthAt;
    this.#bytes[at] = n >>> 24;
    this.#bytes[at + 1] = (n >>> 16) & 0xff;
    this.#bytes[at + 2] = (n >>> 8) & 0xff;
    this.#bytes[at + 3] = n & 0xff;
  }

  #bin(bytes: Uint8Array): void {
    const n = bytes.length;
    this.#reserve(5 + n);
    const out = this.#bytes;
    let at = this.#length;
    if (n < 0x100) {
      out[at++] = 0xc4;
      out[at++] = n;
    } else if (n < 0x10000) {
      out[at++] = 0xc5;
      out[at++] = n >>> 8;
      out[at++] = n & 0xff;
    } else {
      out[at++] = 0xc6;
      out[at++] = n >>> 24;
      out[at++] = (n >>> 16) & 0xff;
      out[at++] = (n >>> 8) & 0xff;
      out[at++] = n & 0xff;
    }
    this.#length = at;
    this.#write(bytes);
  }

  #write(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    if (bytes.length < 16) for (let i = 0; i < bytes.length; i++) this.#bytes[this.#length + i] = bytes[i]!;
    else this.#bytes.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  #reserve(more: number): void {
    if (this.#length + more <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + more));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }
}

/** An array 32 header with its length to be filled in. */
const CHUNK_HEAD = new Uint8Array([ARRAY32, 0, 0, 0, 0]);
const PACKED_TAG_BYTES = new Uint8Array([FIXSTR_1, PACKED_TAG]);
const TOMBSTONE_TAG_BYTES = new Uint8Array([FIXSTR_1, TOMBSTONE_TAG]);

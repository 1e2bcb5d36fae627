import { BloomFilterBlock, FILTER_META_KEY } from './bloom-filter-block.ts';
import { crc32c, maskedCrc } from './crc32c.ts';
import { appendVarint, writeVarint32 } from './varint.ts';

/** LevelDB's defaults, which classic-level keeps: data blocks of ~4 KiB, a restart point every 16 keys. */
const BLOCK_SIZE = 4096;
const RESTART_INTERVAL = 16;
/** Block trailer: the compression type (0: none) and the masked CRC of the block and that byte. */
const TRAILER_BYTES = 5;
const FOOTER_BYTES = 48;
/** The internal key's last 8 bytes: sequence 0, type 1 (a value), as fixed64 little-endian. */
const VALUE_TAG = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);
export const INTERNAL_TAG_BYTES = VALUE_TAG.length;
const FILTER_META_KEY_BYTES = new TextEncoder().encode(FILTER_META_KEY);

/** A finished table file: its bytes and its smallest and largest internal keys (for the manifest). */
export interface TableFile {
  readonly bytes: Uint8Array;
  readonly smallest: Uint8Array;
  readonly largest: Uint8Array;
}

/**
 * Builds one LevelDB table file (`table/table_builder.cc`, `doc/table_format.md`) from user keys given in strictly
 * ascending byte order: data blocks with prefix-compressed keys and restart points, a Bloom filter block, a
 * metaindex block naming it, an index block with one entry per data block, and the footer. Every key becomes an
 * internal key with sequence number 0 and type "value", as LevelDB's own compactions leave keys at the bottom
 * level, so any later write (sequence ≥ 1) overrides it. Blocks are not compressed, as the working database is
 * opened (`compression: false`).
 * @internal
 */
export class TableFileBuilder {
  #out: Uint8Array;
  #size = 0;
  #blockStart = 0;
  #restarts: number[] = [0];
  #sinceRestart = 0;
  #entries = 0;
  /** The last user key added (the first #lastLength bytes). */
  #lastKey = new Uint8Array(256);
  #lastLength = 0;
  #smallest: Uint8Array | undefined;
  readonly #index: Array<{ key: Uint8Array; offset: number; size: number }> = [];
  readonly #filter = new BloomFilterBlock();

  constructor(capacity: number) {
    this.#out = new Uint8Array(capacity);
    this.#filter.startBlock(0);
  }

  /** Bytes written so far (the file's size, less what {@link finish} adds). */
  get size(): number {
    return this.#size;
  }

  /** Keys added so far. */
  get entries(): number {
    return this.#entries;
  }

  /** Adds user key `key[ks, ke)` with value `value[vs, ve)`; the key must be greater than the one added before. */
  add(key: Uint8Array, ks: number, ke: number, value: Uint8Array, vs: number, ve: number): void {
    const keyLength = ke - ks;
    let shared = 0;
    if (this.#sinceRestart < RESTART_INTERVAL) {
      const last = this.#lastKey;
      const limit = Math.min(this.#lastLength, keyLength);
      while (shared < limit && last[shared] === key[ks + shared]) shared++;
    } else {
      this.#restarts.push(this.#size - this.#blockStart);
      this.#sinceRestart = 0;
    }
    if (this.#entries === 0) this.#smallest = internalKey(key, ks, ke);
    const unshared = keyLength - shared + INTERNAL_TAG_BYTES;
    this.#reserve(15 + unshared + ve - vs);
    const out = this.#out;
    let at = writeVarint32(out, this.#size, shared);
    at = writeVarint32(out, at, unshared);
    at = writeVarint32(out, at, ve - vs);
    for (let i = ks + shared; i < ke; i++) out[at++] = key[i]!;
    out.set(VALUE_TAG, at);
    at += INTERNAL_TAG_BYTES;
    if (ve - vs > 32) out.set(value.subarray(vs, ve), at);
    else for (let i = vs; i < ve; i++) out[at + i - vs] = value[i]!;
    this.#size = at + ve - vs;
    this.#filter.addKey(key, ks, ke);
    // The last key shares `shared` bytes with this one: only the rest changes (all of it in a grown array).
    let from = shared;
    if (keyLength > this.#lastKey.length) {
      this.#lastKey = new Uint8Array(keyLength * 2);
      from = 0;
    }
    const last = this.#lastKey;
    for (let i = from; i < keyLength; i++) last[i] = key[ks + i]!;
    this.#lastLength = keyLength;
    this.#sinceRestart++;
    this.#entries++;
    if (this.#size - this.#blockStart + 4 * this.#restarts.length + 4 >= BLOCK_SIZE) this.#endDataBlock();
  }

  /** Writes the filter, metaindex and index blocks and the footer; returns the file. The builder is spent. */
  finish(): TableFile {
    if (this.#entries === 0) throw new Error('a table file needs at least one key');
    if (this.#size > this.#blockStart) this.#endDataBlock();
    const bytes = this.#finishFile();
    const last = this.#index[this.#index.length - 1]!.key;
    return { bytes, smallest: this.#smallest!, largest: last };
  }

  /**
   * The bytes of a table file without keys (an empty index; LevelDB reads it as a table with nothing in it). Only
   * for files a manifest lists by a key range of their own choosing, as the holder of LevelDB's mmap slots does.
   */
  finishEmpty(): Uint8Array {
    if (this.#entries > 0) throw new Error('finishEmpty on a table file with keys');
    return this.#finishFile();
  }

  /** The filter, metaindex and index blocks and the footer after the data blocks written; the file's bytes. */
  #finishFile(): Uint8Array {
    const filter = this.#filter.finish();
    this.#reserve(filter.length + TRAILER_BYTES);
    const filterHandle = this.#rawBlock(filter);
    // Metaindex: one entry, the filter block's handle, under its name.
    const metaStart = this.#size;
    this.#unsharedEntry(FILTER_META_KEY_BYTES, encodeHandle(filterHandle.offset, filterHandle.size));
    this.#reserve(8 + TRAILER_BYTES);
    const metaHandle = this.#endBlock(metaStart, [0]);
    // Index: the last key of each data block (a valid separator: ≥ its keys, < the next block's) → its handle.
    const indexStart = this.#size;
    const restarts: number[] = [];
    for (const { key, offset, size } of this.#index) {
      restarts.push(this.#size - indexStart);
      this.#unsharedEntry(key, encodeHandle(offset, size));
    }
    this.#reserve(4 * restarts.length + 4 + TRAILER_BYTES + FOOTER_BYTES);
    const indexHandle = this.#endBlock(indexStart, restarts);
    // Footer: metaindex and index handles, zero-padded to 40 bytes, then the magic number (fixed64 little-endian).
    const footer = this.#size;
    this.#out.fill(0, footer, footer + FOOTER_BYTES);
    const handles = [metaHandle, indexHandle].flatMap(({ offset, size }) => [...encodeHandle(offset, size)]);
    this.#out.set(handles, footer);
    const view = new DataView(this.#out.buffer, this.#out.byteOffset);
    view.setUint32(footer + 40, 0x8b80fb57, true);
    view.setUint32(footer + 44, 0xdb477524, true);
    this.#size = footer + FOOTER_BYTES;
    return this.#out.subarray(0, this.#size);
  }

  #endDataBlock(): void {
    const offset = this.#blockStart;
    this.#reserve(4 * this.#restarts.length + 4 + TRAILER_BYTES);
    const handle = this.#endBlock(offset, this.#restarts);
    this.#index.push({ key: internalKey(this.#lastKey, 0, this.#lastLength), offset: handle.offset, size: handle.size });
    this.#restarts = [0];
    this.#sinceRestart = 0;
    this.#lastLength = 0; // a block's first key shares nothing: it is read without the block before
    this.#blockStart = this.#size;
    this.#filter.startBlock(this.#size);
  }

  /** Appends the restart array and the trailer to the block begun at `start`; returns its handle. */
  #endBlock(start: number, restarts: readonly number[]): { offset: number; size: number } {
    const view = new DataView(this.#out.buffer, this.#out.byteOffset);
    let at = this.#size;
    for (const restart of restarts) {
      view.setUint32(at, restart, true);
      at += 4;
    }
    view.setUint32(at, restarts.length, true);
    this.#size = at + 4;
    return this.#trailer(start);
  }

  /** Appends `contents` as a block of its own (the filter block: no restart array). */
  #rawBlock(contents: Uint8Array): { offset: number; size: number } {
    const start = this.#size;
    this.#out.set(contents, start);
    this.#size += contents.length;
    return this.#trailer(start);
  }

  /** Appends the trailer of the block `[start, size)`: type 0 and the masked CRC of the block and the type. */
  #trailer(start: number): { offset: number; size: number } {
    const end = this.#size;
    this.#out[end] = 0;
    const crc = maskedCrc(crc32c(this.#out, start, end + 1));
    new DataView(this.#out.buffer, this.#out.byteOffset).setUint32(end + 1, crc, true);
    this.#size = end + TRAILER_BYTES;
    return { offset: start, size: end - start };
  }

  /** Appends a block entry that shares no bytes with the one before (metaindex and index entries). */
  #unsharedEntry(key: Uint8Array, value: Uint8Array): void {
    this.#reserve(15 + key.length + value.length);
    let at = writeVarint32(this.#out, this.#size, 0);
    at = writeVarint32(this.#out, at, key.length);
    at = writeVarint32(this.#out, at, value.length);
    this.#out.set(key, at);
    this.#out.set(value, at + key.length);
    this.#size = at + key.length + value.length;
  }

  #reserve(bytes: number): void {
    if (this.#size + bytes <= this.#out.length) return;
    const grown = new Uint8Array(Math.max(this.#out.length * 2, this.#size + bytes));
    grown.set(this.#out.subarray(0, this.#size));
    this.#out = grown;
  }
}

/** `key[ks, ke)` followed by the internal tag (sequence 0, type value). @internal */
export function internalKey(key: Uint8Array, ks: number, ke: number): Uint8Array {
  const out = new Uint8Array(ke - ks + INTERNAL_TAG_BYTES);
  out.set(key.subarray(ks, ke));
  out.set(VALUE_TAG, ke - ks);
  return out;
}

/** A block handle: offset and size, each a varint64. */
export function encodeHandle(offset: number, size: number): Uint8Array {
  const out: number[] = [];
  appendVarint(out, offset);
  appendVarint(out, size);
  return Uint8Array.from(out);
}

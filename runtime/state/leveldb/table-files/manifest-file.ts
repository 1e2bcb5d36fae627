import { crc32c, maskedCrc } from './crc32c.ts';
import { appendVarint } from './varint.ts';

/** A table file as the manifest lists it. */
export interface ManifestTable {
  readonly number: number;
  readonly size: number;
  /** Smallest and largest internal keys. */
  readonly smallest: Uint8Array;
  readonly largest: Uint8Array;
}

/** VersionEdit field tags (`db/version_edit.cc`). */
const Tag = { comparator: 1, logNumber: 2, nextFileNumber: 3, lastSequence: 4, newFile: 7 } as const;

/** Log blocks (`db/log_format.h`): records never straddle a 32 KiB block without being split into fragments. */
const LOG_BLOCK = 32768;
const LOG_HEADER = 7;
const RecordType = { full: 1, first: 2, middle: 3, last: 4 } as const;

/**
 * The bytes of a LevelDB manifest (`MANIFEST-n`) describing a database made of `tables`, all at `level`: one
 * VersionEdit, as `DBImpl::NewDB` writes one for an empty database, that also adds the tables. The edit is written
 * as a log record (split across 32 KiB blocks if it is larger), each fragment with its masked CRC.
 * @internal
 */
export function manifestBytes(tables: readonly ManifestTable[], level: number, nextFileNumber: number): Uint8Array {
  const edit = new ByteWriter();
  edit.varint(Tag.comparator);
  edit.bytes(new TextEncoder().encode('leveldb.BytewiseComparator'), true);
  edit.varint(Tag.logNumber);
  edit.varint(0);
  edit.varint(Tag.nextFileNumber);
  edit.varint(nextFileNumber);
  edit.varint(Tag.lastSequence);
  edit.varint(0);
  for (const table of tables) {
    edit.varint(Tag.newFile);
    edit.varint(level);
    edit.varint(table.number);
    edit.varint(table.size);
    edit.bytes(table.smallest, true);
    edit.bytes(table.largest, true);
  }
  return logRecords(edit.result());
}

/** `payload` as one log record in as many fragments as the 32 KiB blocks need. */
function logRecords(payload: Uint8Array): Uint8Array {
  const out = new ByteWriter();
  let offset = 0;
  let first = true;
  do {
    const left = LOG_BLOCK - (out.length % LOG_BLOCK);
    if (left < LOG_HEADER) {
      out.zeros(left); // a block's tail too short for a header is padding
      continue;
    }
    const length = Math.min(payload.length - offset, left - LOG_HEADER);
    const end = offset + length === payload.length;
    const type = first && end ? RecordType.full : first ? RecordType.first : end ? RecordType.last : RecordType.middle;
    const crc = maskedCrc(crc32c(payload, offset, offset + length, crc32c(Uint8Array.of(type))));
    out.fixed32(crc);
    out.byte(length & 0xff);
    out.byte(length >>> 8);
    out.byte(type);
    out.bytes(payload.subarray(offset, offset + length), false);
    offset += length;
    first = false;
  } while (offset < payload.length);
  return out.result();
}

class ByteWriter {
  #parts: number[] = [];

  get length(): number {
    return this.#parts.length;
  }

  byte(value: number): void {
    this.#parts.push(value & 0xff);
  }

  zeros(count: number): void {
    for (let i = 0; i < count; i++) this.#parts.push(0);
  }

  fixed32(value: number): void {
    for (let i = 0; i < 4; i++) this.#parts.push((value >>> (8 * i)) & 0xff);
  }

  /** A varint up to 2^53. */
  varint(value: number): void {
    appendVarint(this.#parts, value);
  }

  bytes(bytes: Uint8Array, lengthPrefixed: boolean): void {
    if (lengthPrefixed) this.varint(bytes.length);
    for (const b of bytes) this.#parts.push(b);
  }

  result(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

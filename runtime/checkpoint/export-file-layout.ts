import type { FileHandle } from 'node:fs/promises';

/*
 * Where the parts of an export file are, found without reading its blobs: an export is one msgpack map (format in
 * export-file.ts) whose `blobs` array holds nearly all of its bytes. An import reads the map's headers here, then
 * each blob on its own (import-export-file.ts), so importing a file of any size holds one batch of blobs, not the
 * file. Only the msgpack headers are read; values other than blobs are small and read whole.
 */

/** Where one value sits in the file. `payload` is set for a msgpack bin: where its bytes start (after the header). */
export interface ValueSpan {
  readonly offset: number;
  readonly length: number;
  readonly payload?: number;
}

/** The top-level map of an export file: each key's value, and each element of `blobs`. @internal */
export interface ExportLayout {
  /** The map's values by key (`format`, `version`, `manifest`; `blobs` as the array itself). */
  readonly values: ReadonlyMap<string, ValueSpan>;
  /** The elements of `blobs`, in order; `undefined` when the map has no `blobs` array. */
  readonly blobs: readonly ValueSpan[] | undefined;
}

/** Thrown for bytes that are not msgpack of the shape an export has; the caller names the file. @internal */
export class ExportLayoutError extends Error {}

const READ_AHEAD = 64 * 1024;

/** Reads a file's bytes at any position through one read-ahead buffer (headers are small and mostly in order). */
class FileCursor {
  readonly #file: FileHandle;
  readonly size: number;
  #buffer = Buffer.alloc(READ_AHEAD);
  #start = 0;
  #end = 0;

  constructor(file: FileHandle, size: number) {
    this.#file = file;
    this.size = size;
  }

  /** `length` bytes at `position` (a view valid until the next call). */
  async bytes(position: number, length: number): Promise<Buffer> {
    if (position + length > this.size) throw new ExportLayoutError(`it ends early (at byte ${this.size}, a value needs ${position + length})`);
    if (position < this.#start || position + length > this.#end) {
      if (length > this.#buffer.length) this.#buffer = Buffer.alloc(length);
      const { bytesRead } = await this.#file.read(this.#buffer, 0, Math.min(this.#buffer.length, this.size - position), position);
      this.#start = position;
      this.#end = position + bytesRead;
      if (bytesRead < length) throw new ExportLayoutError(`it ends early (at byte ${this.#end})`);
    }
    return this.#buffer.subarray(position - this.#start, position - this.#start + length);
  }
}

/** A msgpack header: its own size, the bytes of payload after it, and how many values follow inside it. */
interface Header {
  readonly size: number;
  readonly payload: number;
  readonly children: number;
  readonly kind: 'bin' | 'str' | 'array' | 'map' | 'other';
}

async function headerAt(cursor: FileCursor, at: number): Promise<Header> {
  const b = (await cursor.bytes(at, 1))[0]!;
  const u = async (width: 1 | 2 | 4): Promise<number> => {
    const bytes = await cursor.bytes(at + 1, width);
    return width === 1 ? bytes[0]! : width === 2 ? bytes.readUInt16BE(0) : bytes.readUInt32BE(0);
  };
  if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return { size: 1, payload: 0, children: 0, kind: 'other' };
  if (b <= 0x8f) return { size: 1, payload: 0, children: 2 * (b & 0x0f), kind: 'map' };
  if (b <= 0x9f) return { size: 1, payload: 0, children: b & 0x0f, kind: 'array' };
  if (b <= 0xbf) return { size: 1, payload: b & 0x1f, children: 0, kind: 'str' };
  switch (b) {
    case 0xc4: return { size: 2, payload: await u(1), children: 0, kind: 'bin' };
    case 0xc5: return { size: 3, payload: await u(2), children: 0, kind: 'bin' };
    case 0xc6: return { size: 5, payload: await u(4), children: 0, kind: 'bin' };
    case 0xc7: return { size: 3, payload: await u(1), children: 0, kind: 'other' }; // ext 8: length, type, data
    case 0xc8: return { size: 4, payload: await u(2), children: 0, kind: 'other' };
    case 0xc9: return { size: 6, payload: await u(4), children: 0, kind: 'other' };
    case 0xca: case 0xce: case 0xd2: return { size: 5, payload: 0, children: 0, kind: 'other' };
    case 0xcb: case 0xcf: case 0xd3: return { size: 9, payload: 0, children: 0, kind: 'other' };
    case 0xcc: case 0xd0: return { size: 2, payload: 0, children: 0, kind: 'other' };
    case 0xcd: case 0xd1: return { size: 3, payload: 0, children: 0, kind: 'other' };
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return { size: 2, payload: 1 << (b - 0xd4), children: 0, kind: 'other' }; // fixext: type, data
    case 0xd9: return { size: 2, payload: await u(1), children: 0, kind: 'str' };
    case 0xda: return { size: 3, payload: await u(2), children: 0, kind: 'str' };
    case 0xdb: return { size: 5, payload: await u(4), children: 0, kind: 'str' };
    case 0xdc: return { size: 3, payload: 0, children: await u(2), kind: 'array' };
    case 0xdd: return { size: 5, payload: 0, children: await u(4), kind: 'array' };
    case 0xde: return { size: 3, payload: 0, children: 2 * (await u(2)), kind: 'map' };
    case 0xdf: return { size: 5, payload: 0, children: 2 * (await u(4)), kind: 'map' };
    default: throw new ExportLayoutError(`it is not valid msgpack (byte 0x${b.toString(16)} at ${at})`);
  }
}

/** The span of the whole value at `at`, nested values included, read header by header (no recursion). */
async function spanAt(cursor: FileCursor, at: number): Promise<ValueSpan> {
  let position = at;
  let pending = 1;
  let first: Header | undefined;
  while (pending > 0) {
    const header = await headerAt(cursor, position);
    first ??= header;
    position += header.size + header.payload;
    pending += header.children - 1;
  }
  if (position > cursor.size) throw new ExportLayoutError(`it ends early (at byte ${cursor.size}, a value needs ${position})`);
  return first!.kind === 'bin' ? { offset: at, length: position - at, payload: at + first!.size } : { offset: at, length: position - at };
}

/**
 * The layout of the export file open as `file` (`size` bytes): the spans of its top-level values and of each blob.
 * Throws {@link ExportLayoutError} for bytes that are not one msgpack map with string keys filling the file.
 * @internal
 */
export async function readExportLayout(file: FileHandle, size: number): Promise<ExportLayout> {
  const cursor = new FileCursor(file, size);
  const top = await headerAt(cursor, 0);
  if (top.kind !== 'map') throw new ExportLayoutError('it is not a msgpack map');
  const values = new Map<string, ValueSpan>();
  let blobs: ValueSpan[] | undefined;
  let position = top.size;
  for (let entry = 0; entry < top.children / 2; entry++) {
    const keyHeader = await headerAt(cursor, position);
    if (keyHeader.kind !== 'str') throw new ExportLayoutError('its map has a key that is not a string');
    const key = (await cursor.bytes(position + keyHeader.size, keyHeader.payload)).toString('utf8');
    position += keyHeader.size + keyHeader.payload;
    const valueHeader = await headerAt(cursor, position);
    if (key === 'blobs' && valueHeader.kind === 'array') {
      blobs = [];
      let element = position + valueHeader.size;
      for (let i = 0; i < valueHeader.children; i++) {
        const span = await spanAt(cursor, element);
        blobs.push(span);
        element += span.length;
      }
      values.set(key, { offset: position, length: element - position });
      position = element;
    } else {
      const span = await spanAt(cursor, position);
      values.set(key, span);
      position += span.length;
    }
  }
  if (position !== size) throw new ExportLayoutError(`it has ${size - position} bytes after its map`);
  return { values, blobs };
}

/** The bytes of `span`, read whole. @internal */
export async function readSpan(file: FileHandle, span: ValueSpan, from = span.offset): Promise<Buffer> {
  const length = span.offset + span.length - from;
  const bytes = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(bytes, done, length - done, from + done);
    if (bytesRead === 0) throw new ExportLayoutError('it ends early');
    done += bytesRead;
  }
  return bytes;
}

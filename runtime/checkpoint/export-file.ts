import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { Packr } from '../serde/msgpackr.ts';
import { SluiceError } from '../errors/index.ts';
import { CheckpointErrorCodes, isIncremental, validateManifest, type CheckpointManifest } from './manifest.ts';
import { selfContainedCount, selfContainedStream } from './self-contained.ts';
import { ExportLayoutError, readExportLayout, readSpan, type ExportLayout } from './export-file-layout.ts';
import { blobInput, buildManifest, checkBlob, writtenBlobInput, type BlobInput, type VerifiedCheckpoint, type WrittenBlobInput } from './store-layout.ts';

/*
 * Export file format (`sluice checkpoint export`, backups): msgpack of
 * `{ format: 'sluice-checkpoint-export', version: 1, blobs: Uint8Array[], manifest }`, blobs in `manifest.blobs`
 * order, records off (plain data), binary blobs as msgpack bin. An export always stands alone: its manifest is
 * format 1 (incremental checkpoints are merged into full blobs when exported). Files are written with the manifest
 * last (see writeExportFile); readers take the map's keys in any order, so files with the manifest first (written
 * before that) read the same.
 */
const exportPackr = new Packr({ useRecords: false, moreTypes: true });
const EXPORT_FORMAT = 'sluice-checkpoint-export';

/** The manifest and blobs of an export file, every blob checked against its ref. @internal */
export function decodeExport(raw: Uint8Array, file: string): { manifest: CheckpointManifest; inputs: BlobInput[] } {
  let decoded: unknown;
  try {
    decoded = exportPackr.unpack(raw);
  } catch (err) {
    throw importCorrupt(file, 'it is not valid msgpack', err);
  }
  const doc = decoded as { format?: unknown; version?: unknown; manifest?: unknown; blobs?: unknown };
  if (typeof doc !== 'object' || doc === null) throw importCorrupt(file, `it is not a ${EXPORT_FORMAT} file of version 1`);
  const manifest = checkExportHeader(doc, file);
  const blobs = doc.blobs;
  if (!Array.isArray(blobs) || blobs.length !== manifest.blobs.length) {
    throw importCorrupt(file, 'its blob list does not match its manifest');
  }
  const inputs: BlobInput[] = manifest.blobs.map((ref, i) => {
    const bytes: unknown = blobs[i];
    if (!(bytes instanceof Uint8Array)) throw importCorrupt(file, `blob ${ref.key} is not binary`);
    const problem = checkBlob(ref, bytes);
    if (problem !== undefined) throw importCorrupt(file, `blob ${ref.key} ${problem}`);
    return blobInput(ref, bytes);
  });
  return { manifest, inputs };
}

/** An export file opened for a streamed import: its manifest, checked, and each blob read on demand. @internal */
export interface ExportFileSource {
  readonly manifest: CheckpointManifest;
  /** The manifest's blobs without their bytes, in order (what the import's manifest is built from). */
  readonly blobs: readonly WrittenBlobInput[];
  /** Blob `index`, read from the file and checked against its ref; `SLUICE_CHECKPOINT_CORRUPT` when it does not match. */
  readBlob(index: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Opens an export file for an import that reads one blob at a time: only the file's msgpack headers and its manifest
 * are read here (export-file-layout.ts). Throws `SLUICE_CHECKPOINT_NOT_FOUND` for a file that cannot be read and
 * `SLUICE_CHECKPOINT_CORRUPT` for one that is not an export; errors call it `name` (default its path). @internal
 */
export async function openExportFile(file: string, name = file): Promise<ExportFileSource> {
  let handle: FileHandle;
  let size: number;
  try {
    handle = await open(file, 'r');
    size = (await handle.stat()).size;
  } catch (err) {
    throw new SluiceError(CheckpointErrorCodes.notFound, `cannot read checkpoint export ${name}: ${(err as Error).message}`, { cause: err });
  }
  try {
    let layout: ExportLayout;
    try {
      layout = await readExportLayout(handle, size);
    } catch (err) {
      if (err instanceof ExportLayoutError) throw importCorrupt(name, err.message, err);
      throw err;
    }
    const valueOf = async (key: string): Promise<unknown> => {
      const span = layout.values.get(key);
      if (span === undefined) return undefined;
      try {
        return exportPackr.unpack(await readSpan(handle, span));
      } catch (err) {
        throw importCorrupt(name, `its ${key} is not valid msgpack`, err);
      }
    };
    const manifest = checkExportHeader({ format: await valueOf('format'), version: await valueOf('version'), manifest: await valueOf('manifest') }, name);
    const spans = layout.blobs;
    if (spans === undefined || spans.length !== manifest.blobs.length) throw importCorrupt(name, 'its blob list does not match its manifest');
    const blobs = manifest.blobs.map(writtenBlobInput);
    const readBlob = async (index: number): Promise<Uint8Array> => {
      const ref = manifest.blobs[index]!;
      const span = spans[index]!;
      let bytes: unknown;
      if (span.payload !== undefined) bytes = await readSpan(handle, span, span.payload);
      else {
        try {
          bytes = exportPackr.unpack(await readSpan(handle, span)); // not a msgpack bin (an older writer): decoded
        } catch (err) {
          throw importCorrupt(name, `blob ${ref.key} is not valid msgpack`, err);
        }
      }
      if (!(bytes instanceof Uint8Array)) throw importCorrupt(name, `blob ${ref.key} is not binary`);
      const problem = checkBlob(ref, bytes);
      if (problem !== undefined) throw importCorrupt(name, `blob ${ref.key} ${problem}`);
      return bytes;
    };
    return { manifest, blobs, readBlob, close: () => handle.close() };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

/** The manifest of an export's decoded header values, once format, version and manifest are checked. */
function checkExportHeader(doc: { format?: unknown; version?: unknown; manifest?: unknown }, file: string): CheckpointManifest {
  if (doc.format !== EXPORT_FORMAT || doc.version !== 1) throw importCorrupt(file, `it is not a ${EXPORT_FORMAT} file of version 1`);
  let manifest: CheckpointManifest;
  try {
    manifest = validateManifest(doc.manifest);
  } catch (err) {
    throw importCorrupt(file, (err as Error).message, err);
  }
  if (manifest.formatVersion !== 1) throw importCorrupt(file, 'its manifest is not self-contained (format 1); export the checkpoint again');
  return manifest;
}

function importCorrupt(file: string, what: string, cause?: unknown): SluiceError {
  return new SluiceError(
    CheckpointErrorCodes.corrupt,
    `checkpoint export ${file} is corrupt: ${what}; nothing was imported — export the checkpoint again`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Writes the export file of a loaded checkpoint (merged into full blobs when incremental), atomically, one blob at a
 * time: each blob (each merged chain) is read, written and let go before the next, so an export holds one key
 * group's chain, not the checkpoint. The manifest goes last, as an incremental checkpoint's merged blobs have their
 * sizes and checksums only once they are written (a msgpack map's keys may come in any order). @internal
 */
export async function writeExportFile(loaded: VerifiedCheckpoint, file: string): Promise<void> {
  const source = loaded.manifest;
  const incremental = isIncremental(source);
  const io = <T>(op: () => Promise<T>): Promise<T> =>
    op().catch((err: unknown) => {
      throw new SluiceError(
        CheckpointErrorCodes.writeFailed,
        `cannot write the export of checkpoint ${source.id} of job "${source.job}" to ${file}: ${(err as Error).message}; check the path and free space`,
        { cause: err },
      );
    });
  const tmp = `${file}.tmp-${process.pid}`;
  const out = await io(() => open(tmp, 'w'));
  try {
    const count = incremental ? selfContainedCount(source.blobs) : source.blobs.length;
    await io(() => writeAll(out, [mapHeader(4), ...packed('format', EXPORT_FORMAT, 'version', 1, 'blobs'), arrayHeader(count)]));
    const written: WrittenBlobInput[] = [];
    const blobs = incremental
      ? selfContainedStream(source.maxParallelism, source.blobs, (ref) => loaded.blob(ref.key))
      : readEach(source.blobs, (ref) => blobInput(ref, loaded.blob(ref.key)));
    for await (const blob of blobs) {
      await io(() => writeAll(out, [binHeader(blob.bytes.length), blob.bytes]));
      if (!incremental) continue; // the loaded manifest describes these blobs already
      const { bytes, ...ref } = blob;
      written.push({ ...ref, size: bytes.length, crc32: crc32(bytes) });
    }
    let manifest = source;
    if (incremental) {
      const { blobs: _refs, totalBytes: _total, formatVersion: _v, writtenBytes: _w, ...header } = source;
      manifest = buildManifest(header, written);
    }
    await io(() => writeAll(out, packed('manifest', manifest)));
    // Synced before it takes its name: an export is a backup, and must not turn out empty after a power loss.
    await io(() => out.sync());
    await io(() => out.close());
    await io(() => rename(tmp, file)); // readers never see a half-written export
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

function* readEach<T, R>(items: readonly T[], read: (item: T) => R): Generator<R> {
  for (const item of items) yield read(item);
}

/** Each value as a msgpack value of its own (strings, numbers and plain data: the export's keys and manifest). */
function packed(...values: unknown[]): Uint8Array[] {
  return values.map((value) => exportPackr.pack(value));
}

function mapHeader(entries: number): Uint8Array {
  return Uint8Array.of(0x80 | entries); // fixmap: up to 15 entries
}

function arrayHeader(length: number): Uint8Array {
  const header = Buffer.alloc(5);
  header[0] = 0xdd; // array 32
  header.writeUInt32BE(length, 1);
  return header;
}

function binHeader(length: number): Uint8Array {
  const header = Buffer.alloc(5);
  header[0] = 0xc6; // bin 32
  header.writeUInt32BE(length, 1);
  return header;
}

/** Writes every buffer, however many calls the file system takes. */
async function writeAll(out: FileHandle, buffers: Uint8Array[]): Promise<void> {
  let pending = buffers.filter((b) => b.length > 0);
  while (pending.length > 0) {
    const { bytesWritten } = await out.writev(pending);
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const buffer of pending) {
      if (skip >= buffer.length) skip -= buffer.length;
      else {
        rest.push(skip === 0 ? buffer : buffer.subarray(skip));
        skip = 0;
      }
    }
    pending = rest;
  }
}

import { rename, rm, writeFile } from 'node:fs/promises';
import { Packr } from 'msgpackr';
import { SluiceError } from '../errors/index.ts';
import { CheckpointErrorCodes, isIncremental, validateManifest, type CheckpointManifest } from './manifest.ts';
import { selfContainedBlobs } from './self-contained.ts';
import { blobInput, buildManifest, checkBlob, type BlobInput, type VerifiedCheckpoint } from './store-layout.ts';

/*
 * Export file format (`sluice checkpoint export`, backups): msgpack of
 * `{ format: 'sluice-checkpoint-export', version: 1, manifest, blobs: Uint8Array[] }`, blobs in `manifest.blobs`
 * order, records off (plain data), binary blobs as msgpack bin. An export always stands alone: its manifest is
 * format 1 (incremental checkpoints are merged into full blobs when exported).
 */
const exportPackr = new Packr({ useRecords: false, moreTypes: true });
const EXPORT_FORMAT = 'sluice-checkpoint-export';

/** The bytes of an export file of a self-contained (format 1) checkpoint. @internal */
export function encodeExport(manifest: CheckpointManifest, blobs: readonly Uint8Array[]): Uint8Array {
  return exportPackr.pack({ format: EXPORT_FORMAT, version: 1, manifest, blobs });
}

/** The manifest and blobs of an export file, every blob checked against its ref. @internal */
export function decodeExport(raw: Uint8Array, file: string): { manifest: CheckpointManifest; inputs: BlobInput[] } {
  let decoded: unknown;
  try {
    decoded = exportPackr.unpack(raw);
  } catch (err) {
    throw importCorrupt(file, 'it is not valid msgpack', err);
  }
  const doc = decoded as { format?: unknown; version?: unknown; manifest?: unknown; blobs?: unknown };
  if (typeof doc !== 'object' || doc === null || doc.format !== EXPORT_FORMAT || doc.version !== 1) {
    throw importCorrupt(file, `it is not a ${EXPORT_FORMAT} file of version 1`);
  }
  let manifest: CheckpointManifest;
  try {
    manifest = validateManifest(doc.manifest);
  } catch (err) {
    throw importCorrupt(file, (err as Error).message, err);
  }
  if (manifest.formatVersion !== 1) throw importCorrupt(file, 'its manifest is not self-contained (format 1); export the checkpoint again');
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

function importCorrupt(file: string, what: string, cause?: unknown): SluiceError {
  return new SluiceError(
    CheckpointErrorCodes.corrupt,
    `checkpoint export ${file} is corrupt: ${what}; nothing was imported — export the checkpoint again`,
    cause === undefined ? {} : { cause },
  );
}

/** Writes the export file of a loaded checkpoint (merged into full blobs when incremental), atomically. @internal */
export async function writeExportFile(loaded: VerifiedCheckpoint, file: string): Promise<void> {
  let manifest = loaded.manifest;
  let blobs = manifest.blobs.map((ref) => loaded.blob(ref.key));
  if (isIncremental(manifest)) {
    const { blobs: _refs, totalBytes: _total, formatVersion: _v, writtenBytes: _w, ...header } = manifest;
    const full = await selfContainedBlobs(manifest.maxParallelism, manifest.blobs.map((ref) => blobInput(ref, loaded.blob(ref.key))));
    manifest = buildManifest(header, full);
    blobs = full.map((b) => b.bytes);
  }
  const bytes = encodeExport(manifest, blobs);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file); // readers never see a half-written export
  } catch (err) {
    await rm(tmp, { force: true });
    throw new SluiceError(
      CheckpointErrorCodes.writeFailed,
      `cannot write the export of checkpoint ${manifest.id} of job "${manifest.job}" to ${file}: ${(err as Error).message}; check the path and free space`,
      { cause: err },
    );
  }
}

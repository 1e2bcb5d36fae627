import { crc32 } from 'node:zlib';
import type { BatchOperation } from 'level';
import { isSluiceError, SluiceError } from '../errors/index.ts';
import { lastIdMark } from './adopt-checkpoint.ts';
import { batchesOfAtMost, BLOB_BATCH_BYTES, bytesOfOp, streamedBatchesOfAtMost } from './blob-batches.ts';
import type { StoreBatchOp } from './checkpoint-store.ts';
import { CheckpointErrorCodes, encodeManifest, writtenBytesOf, type CheckpointManifest, type ManifestHeader } from './manifest.ts';
import { writeDurably, type Db } from './store-db.ts';
import { blobPrefix, buildManifest, isShared, manifestKey, ownBlobKey, prefixEnd, type BlobInput, type CheckpointBlobs, type WrittenBlobInput } from './store-layout.ts';

/** The store's test hook run right before a write's batches (`CheckpointStoreOptions.beforeBatch`). @internal */
export type BeforeBatch = (ops: StoreBatchOp[]) => void | Promise<void>;

/**
 * Writes a new checkpoint (CheckpointStore.write and imports): its own blobs in batches of at most
 * BLOB_BATCH_BYTES, then its manifest and the job's id mark in one last batch, so it exists only once all of it
 * does. Fails with `SLUICE_CHECKPOINT_EXISTS` for an id already taken, and with a retriable write failure when a
 * shared blob it builds on is gone or LevelDB fails (nothing is left visible then). The caller serialises store
 * writes.
 * @internal
 */
export async function writeCheckpoint(db: Db, input: ManifestHeader, blobs: CheckpointBlobs, beforeBatch: BeforeBatch | undefined): Promise<CheckpointManifest> {
  const manifest = buildManifest(input, blobs);
  const { job, id } = manifest;
  await checkNewId(db, manifest);
  const sharedKeys = blobs.filter(isShared).map((b) => b.shared.key);
  if (sharedKeys.length > 0) {
    // Writes and deletes are serialised, so a shared blob present now stays: this manifest will name it.
    const present = await db.hasMany(sharedKeys);
    const missing = sharedKeys.filter((_, i) => !present[i]);
    if (missing.length > 0) {
      throw new SluiceError(
        CheckpointErrorCodes.writeFailed,
        `checkpoint ${id} of job "${job}" builds on blobs that no longer exist (${missing.length}, e.g. ${missing[0]}): the checkpoint it extends was deleted; the job restarts from its latest checkpoint and writes full blobs`,
        { retriable: true },
      );
    }
  }
  const ops: StoreBatchOp[] = [];
  for (let i = 0; i < blobs.length; i++) {
    const blob = blobs[i]!;
    if (!isShared(blob)) ops.push({ type: 'put', key: manifest.blobs[i]!.key, value: blob.bytes });
  }
  const blobOps = ops.length;
  ops.push({ type: 'put', key: manifestKey(job, id), value: encodeManifest(manifest) });
  ops.push(await lastIdMark(db, job, id));
  await commitCheckpoint(db, manifest, () => describeBlobs(blobOps, writtenBytesOf(manifest)), async () => {
    await beforeBatch?.(ops);
    const blobBatches = batchesOfAtMost(ops.slice(0, blobOps), BLOB_BATCH_BYTES, bytesOfOp);
    return { blobBatches, last: () => ops.slice(blobOps) };
  });
  return manifest;
}

/**
 * Writes an imported checkpoint whose blobs are read one at a time (`read(i)`: blob `i` of `blobs`, checked against
 * its size and checksum by the caller, who throws `SLUICE_CHECKPOINT_CORRUPT` for a damaged one): an export file of
 * any size is imported holding one batch of blobs. As {@link writeCheckpoint}, the checkpoint exists only once its
 * manifest is written, after every blob; a damaged blob met midway clears the blobs written before it and fails with
 * its own error. `beforeBatch` sees the last batch's operations (manifest and id mark): the blobs are not read yet.
 * @internal
 */
export async function writeStreamedCheckpoint(
  db: Db,
  input: ManifestHeader,
  blobs: readonly WrittenBlobInput[],
  read: (index: number) => Promise<Uint8Array>,
  beforeBatch: BeforeBatch | undefined,
): Promise<CheckpointManifest> {
  const manifest = buildManifest(input, blobs);
  await checkNewId(db, manifest);
  const last: StoreBatchOp[] = [{ type: 'put', key: manifestKey(manifest.job, manifest.id), value: encodeManifest(manifest) }, await lastIdMark(db, manifest.job, manifest.id)];
  async function* puts(): AsyncGenerator<StoreBatchOp> {
    for (let i = 0; i < blobs.length; i++) yield { type: 'put', key: manifest.blobs[i]!.key, value: await read(i) };
  }
  await commitCheckpoint(db, manifest, () => describeBlobs(blobs.length, writtenBytesOf(manifest)), async () => {
    await beforeBatch?.(last);
    return { blobBatches: streamedBatchesOfAtMost(puts(), BLOB_BATCH_BYTES, bytesOfOp), last: () => last };
  });
  return manifest;
}

/**
 * Writes a checkpoint whose own blobs are made as they are written (`blobs`: a savepoint's chains merged one at a
 * time, see `selfContainedStream`), so a savepoint of any size holds one merged chain and one batch, not the
 * checkpoint. Each blob goes under its key ({@link ownBlobKey}) in batches of at most BLOB_BATCH_BYTES; the manifest,
 * built from the sizes and checksums written, goes last with the id mark, so the checkpoint exists only once all of
 * it does. `beforeBatch` sees that last batch's operations, after the blobs were written (a failure there, or a
 * blob that cannot be made, clears them). No shared blobs: what this writes stands alone.
 * @internal
 */
export async function writeMergedCheckpoint(db: Db, input: ManifestHeader, blobs: AsyncIterable<BlobInput>, beforeBatch: BeforeBatch | undefined): Promise<CheckpointManifest> {
  const empty = buildManifest(input, []); // checks the header before anything is read or written
  await checkNewId(db, empty);
  const written: WrittenBlobInput[] = [];
  let bytesWritten = 0;
  let manifest: CheckpointManifest | undefined;
  async function* puts(): AsyncGenerator<StoreBatchOp> {
    for await (const { bytes: value, ...blob } of blobs) {
      bytesWritten += value.byteLength;
      written.push({ ...blob, size: value.byteLength, crc32: crc32(value) });
      yield { type: 'put', key: ownBlobKey(input, blob), value };
    }
  }
  const last = async (): Promise<StoreBatchOp[]> => {
    manifest = buildManifest(input, written);
    const ops: StoreBatchOp[] = [{ type: 'put', key: manifestKey(input.job, input.id), value: encodeManifest(manifest) }, await lastIdMark(db, input.job, input.id)];
    await beforeBatch?.(ops);
    return ops;
  };
  await commitCheckpoint(db, empty, () => describeBlobs(written.length, bytesWritten), async () => ({ blobBatches: streamedBatchesOfAtMost(puts(), BLOB_BATCH_BYTES, bytesOfOp), last }));
  return manifest!;
}

function describeBlobs(count: number, bytes: number): string {
  return `${count} blobs, ${bytes} bytes`;
}

/** Fails with `SLUICE_CHECKPOINT_EXISTS` when the manifest's id is taken. */
async function checkNewId(db: Db, manifest: CheckpointManifest): Promise<void> {
  if ((await db.get(manifestKey(manifest.job, manifest.id))) !== undefined) {
    throw new SluiceError(
      CheckpointErrorCodes.exists,
      `checkpoint ${manifest.id} of job "${manifest.job}" already exists; take ids from store.nextId("${manifest.job}")`,
    );
  }
}

/**
 * Blobs first, batch by batch, then manifest and id in one last batch: the checkpoint exists only once its manifest
 * does. Blobs a crash left without their manifest (under this very id, which is taken again since the id mark was
 * not written) are cleared first; nothing reads blobs without a manifest. `prepare` runs the test hook and gives the
 * batches.
 */
async function commitCheckpoint(
  db: Db,
  manifest: Pick<CheckpointManifest, 'job' | 'id'>,
  describe: () => string,
  prepare: () => Promise<{ blobBatches: Iterable<StoreBatchOp[]> | AsyncIterable<StoreBatchOp[]>; last: () => StoreBatchOp[] | Promise<StoreBatchOp[]> }>,
): Promise<void> {
  const { job, id } = manifest;
  try {
    const { blobBatches, last } = await prepare();
    const blobsUnder = blobPrefix(job, id);
    await db.clear({ gte: blobsUnder, lt: prefixEnd(blobsUnder) });
    try {
      // Blob batches take no options argument: with one, abstract-level copies the options into every operation
      // (measured: 1,000-key batches ~660k keys/s against ~4× less). The last batch is written synced.
      for await (const batch of blobBatches) await db.batch(batch as Array<BatchOperation<Db, string, Uint8Array>>);
      await writeDurably(db, await last());
    } catch (err) {
      await db.clear({ gte: blobsUnder, lt: prefixEnd(blobsUnder) }).catch(() => undefined); // best effort: cleared again next time
      throw err;
    }
  } catch (err) {
    if (isSluiceError(err, CheckpointErrorCodes.corrupt)) throw err; // an imported blob, or a savepoint's chain, found damaged
    throw new SluiceError(
      CheckpointErrorCodes.writeFailed,
      `writing checkpoint ${id} of job "${job}" (${describe()}) failed: ` +
        `${(err as Error).message}; nothing was stored, the previous checkpoint stays the latest — check free disk space`,
      { cause: err, retriable: true },
    );
  }
}

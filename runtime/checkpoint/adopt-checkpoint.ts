import type { BatchOperation } from 'level';
import { SluiceError } from '../errors/index.ts';
import { batchesOfAtMost, BLOB_BATCH_BYTES } from './blob-batches.ts';
import type { StoreBatchOp } from './checkpoint-store.ts';
import { CheckpointErrorCodes, encodeManifest, type CheckpointManifest } from './manifest.ts';
import type { Db } from './store-db.ts';
import { checkBlob, describeCheckpoint, lastIdKey, manifestKey } from './store-layout.ts';

/** `job`'s id high-water mark: the highest id it ever had (0 for none). @internal */
export async function lastIdOf(db: Db, job: string): Promise<number> {
  const last = await db.get(lastIdKey(job));
  return last === undefined ? 0 : Number(new TextDecoder().decode(last));
}

/** The operation that raises `job`'s id high-water mark to at least `id` (ids never repeat, also after deletes). @internal */
export async function lastIdMark(db: Db, job: string, id: number): Promise<StoreBatchOp> {
  return { type: 'put', key: lastIdKey(job), value: new TextEncoder().encode(String(Math.max(await lastIdOf(db, job), id))) };
}

/**
 * Writes a checkpoint as another store wrote it (CheckpointStore.adopt): every blob is checked before anything is
 * written, then the blobs in batches, then manifest and id mark in one last batch. The same manifest already here is
 * nothing to do; a different one under the id is `SLUICE_CHECKPOINT_EXISTS`. The caller serialises store writes.
 * @internal
 */
export async function adoptCheckpoint(db: Db, manifest: CheckpointManifest, blobs: ReadonlyMap<string, Uint8Array>): Promise<void> {
  const { job, id } = manifest;
  const what = describeCheckpoint(job, id);
  const ops: StoreBatchOp[] = manifest.blobs.map((ref) => {
    const bytes = blobs.get(ref.key);
    const problem = checkBlob(ref, bytes);
    if (problem !== undefined) throw new SluiceError(CheckpointErrorCodes.corrupt, `cannot adopt ${what}: blob ${ref.key} ${problem}`);
    return { type: 'put', key: ref.key, value: bytes! };
  });
  const encoded = encodeManifest(manifest);
  const present = await db.get(manifestKey(job, id));
  if (present !== undefined) {
    if (Buffer.compare(Buffer.from(present), Buffer.from(encoded)) === 0) return;
    throw new SluiceError(CheckpointErrorCodes.exists, `${what} already exists here and differs from the one to adopt; delete the job's local checkpoints first`);
  }
  const mark = await lastIdMark(db, job, id);
  for (const batch of batchesOfAtMost(ops, BLOB_BATCH_BYTES, (op) => (op.type === 'put' ? op.value.byteLength : 0))) await db.batch(batch as Array<BatchOperation<Db, string, Uint8Array>>);
  await db.batch([{ type: 'put', key: manifestKey(job, id), value: encoded }, mark] as Array<BatchOperation<Db, string, Uint8Array>>);
}

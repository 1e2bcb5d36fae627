import type { BatchOperation } from 'level';
import { SluiceError } from '../errors/index.ts';
import { BLOB_BATCH_BYTES, bytesOfOp, streamedBatchesOfAtMost } from './blob-batches.ts';
import type { StoreBatchOp } from './checkpoint-store.ts';
import { CheckpointErrorCodes, encodeManifest, type CheckpointManifest } from './manifest.ts';
import { writeDurably, type Db } from './store-db.ts';
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
 * The blobs of a checkpoint to adopt: all in memory, or read as they are asked for (cluster mode reads a replicated
 * checkpoint back from Kafka blob by blob), as `[key, bytes]` pairs in any order.
 */
export type AdoptedBlobs = ReadonlyMap<string, Uint8Array> | AsyncIterable<readonly [string, Uint8Array]>;

/**
 * Writes a checkpoint as another store wrote it (CheckpointStore.adopt): the blobs in batches of at most
 * {@link BLOB_BATCH_BYTES} as they come, each checked against the manifest first, then manifest and id mark in one
 * last batch, so the checkpoint exists only once every blob is stored. Blobs in memory are all checked before
 * anything is written; streamed ones as they arrive, so a failure part way leaves the blobs stored so far without a
 * manifest (unreferenced, removed with the job's checkpoints; their keys and bytes are the checkpoint's own, so they
 * harm no other checkpoint). The same manifest already here is nothing to do (streamed blobs are then not read); a
 * different one under the id is `SLUICE_CHECKPOINT_EXISTS`. The caller serialises store writes.
 * @internal
 */
export async function adoptCheckpoint(db: Db, manifest: CheckpointManifest, blobs: AdoptedBlobs): Promise<void> {
  const { job, id } = manifest;
  const what = describeCheckpoint(job, id);
  const corrupt = (problem: string): SluiceError => new SluiceError(CheckpointErrorCodes.corrupt, `cannot adopt ${what}: ${problem}`);
  const refs = new Map(manifest.blobs.map((ref) => [ref.key, ref]));
  const inMemory = blobs instanceof Map;
  if (inMemory) {
    for (const ref of manifest.blobs) {
      const problem = checkBlob(ref, blobs.get(ref.key));
      if (problem !== undefined) throw corrupt(`blob ${ref.key} ${problem}`);
    }
  }
  const encoded = encodeManifest(manifest);
  const present = await db.get(manifestKey(job, id));
  if (present !== undefined) {
    if (Buffer.compare(Buffer.from(present), Buffer.from(encoded)) === 0) return;
    throw new SluiceError(CheckpointErrorCodes.exists, `${what} already exists here and differs from the one to adopt; delete the job's local checkpoints first`);
  }
  const mark = await lastIdMark(db, job, id);
  const source: Iterable<readonly [string, Uint8Array]> | AsyncIterable<readonly [string, Uint8Array]> =
    inMemory ? manifest.blobs.map((ref) => [ref.key, blobs.get(ref.key)!] as const) : (blobs as AsyncIterable<readonly [string, Uint8Array]>);
  const stored = new Set<string>();
  async function* puts(): AsyncGenerator<StoreBatchOp> {
    for await (const [key, bytes] of source) {
      const ref = refs.get(key);
      if (ref === undefined || stored.has(key)) throw corrupt(`blob ${key} ${ref === undefined ? 'is not one of its blobs' : 'came twice'}`);
      const problem = inMemory ? undefined : checkBlob(ref, bytes); // blobs in memory were all checked above
      if (problem !== undefined) throw corrupt(`blob ${key} ${problem}`);
      stored.add(key);
      yield { type: 'put', key, value: bytes };
    }
  }
  for await (const batch of streamedBatchesOfAtMost(puts(), BLOB_BATCH_BYTES, bytesOfOp)) await db.batch(batch as Array<BatchOperation<Db, string, Uint8Array>>);
  const missing = manifest.blobs.find((ref) => !stored.has(ref.key));
  if (missing !== undefined) throw corrupt(`blob ${missing.key} is missing`);
  await writeDurably(db, [{ type: 'put', key: manifestKey(job, id), value: encoded }, mark]);
}

import type { BatchOperation } from 'level';
import { removableBlobs } from './blob-references.ts';
import type { StoreBatchOp } from './checkpoint-store.ts';
import { decodeManifest, type CheckpointKind, type CheckpointManifest } from './manifest.ts';
import type { Db } from './store-db.ts';
import { blobPrefix, describeCheckpoint as describe, manifestKey, manifestPrefix, prefixEnd } from './store-layout.ts';

/** Manifests of `job` as [id, raw value], newest first. @internal */
export async function* manifestsOf(db: Db, job: string): AsyncGenerator<[number, Uint8Array]> {
  const prefix = manifestPrefix(job);
  for await (const [key, value] of db.iterator({ gte: prefix, lt: prefixEnd(prefix), reverse: true })) {
    yield [Number(key.slice(prefix.length)), value];
  }
}

/**
 * Deletes all but the newest `retain` checkpoints of `job`; savepoints and unreadable manifests stay. The caller
 * serialises store writes.
 * @internal
 */
export async function applyRetention(db: Db, job: string, retain: number): Promise<void> {
  const checkpoints: number[] = [];
  for await (const [id, value] of manifestsOf(db, job)) {
    let kind: CheckpointKind;
    try {
      kind = decodeManifest(value, describe(job, id)).kind;
    } catch {
      continue; // unreadable: leave it for the user to inspect and delete
    }
    if (kind === 'checkpoint') checkpoints.push(id);
  }
  for (const id of checkpoints.slice(retain)) await deleteCheckpoint(db, job, id);
}

/**
 * Deletes a checkpoint's manifest and the blobs only it named (incremental checkpoints share blobs), atomically.
 * False when there was nothing to delete.
 * @internal
 */
export async function deleteCheckpoint(db: Db, job: string, id: number): Promise<boolean> {
  const prefix = blobPrefix(job, id);
  const storedUnderId: string[] = [];
  for await (const key of db.keys({ gte: prefix, lt: prefixEnd(prefix) })) storedUnderId.push(key);
  const raw = await db.get(manifestKey(job, id));
  if (raw === undefined && storedUnderId.length === 0) return false;
  let deleted: CheckpointManifest | undefined;
  const remaining: CheckpointManifest[] = [];
  for await (const [other, value] of manifestsOf(db, job)) {
    try {
      const manifest = decodeManifest(value, describe(job, other));
      if (other === id) deleted = manifest;
      else remaining.push(manifest);
    } catch {
      // unreadable: it cannot be restored, and it names nothing that must be kept
    }
  }
  const ops: StoreBatchOp[] = removableBlobs(deleted, storedUnderId, remaining).map((key) => ({ type: 'del', key }));
  ops.push({ type: 'del', key: manifestKey(job, id) });
  await db.batch(ops as Array<BatchOperation<Db, string, Uint8Array>>);
  return true;
}

import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Level } from 'level';
import { Packr } from '../../../runtime/serde/msgpackr.ts';
import { CheckpointStore, checkpointDbPath, type CheckpointManifest, type ManifestHeader } from '../../../runtime/checkpoint/index.ts';
import { gatherCheckpoint } from '../../../runtime/checkpoint/checkpoint-blobs.ts';
import { writeExportFile } from '../../../runtime/checkpoint/export-file.ts';
import type { VerifiedCheckpoint } from '../../../runtime/checkpoint/store-layout.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import type { SubtaskAck } from '../../../runtime/exec/index.ts';
import { HeapKeyedStateBackend } from '../../../runtime/state/index.ts';
import { restoredValueState } from '../../support/keyed-state-fixtures.ts';
import { tempDir } from '../../support/temp-dir.ts';

const M = 8;
const JOB = 'inc';

function header(id: number, kind: 'checkpoint' | 'savepoint' = 'checkpoint'): ManifestHeader {
  return { job: JOB, id, kind, timestamp: id, durationMs: 1, parallelism: 1, maxParallelism: M, operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }], sourcePositions: {} };
}

/** A backend of many keys, snapshotted incrementally, and what each checkpoint should restore to. */
class Job {
  readonly backend = new HeapKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 }, incremental: true });
  readonly expected = new Map<number, Map<string, number>>();
  readonly #values = new Map<string, number>();
  parent: CheckpointManifest | undefined;

  /** Updates `keys` keys starting at `from`, deletes every 7th of them. */
  change(from: number, keys: number, round: number): void {
    const count = this.backend.getValueState<number>('count');
    for (let k = from; k < from + keys; k++) {
      const key = `user-${k}`;
      this.backend.setCurrentKey(key);
      if (k % 7 === 3 && round > 1) {
        count.clear();
        this.#values.delete(key);
      } else {
        count.update(round * 1000 + k);
        this.#values.set(key, round * 1000 + k);
      }
    }
  }

  /** Deletes the state of `keys` keys starting at `from`. */
  clear(from: number, keys: number): void {
    const count = this.backend.getValueState<number>('count');
    for (let k = from; k < from + keys; k++) {
      this.backend.setCurrentKey(`user-${k}`);
      count.clear();
      this.#values.delete(`user-${k}`);
    }
  }

  async checkpoint(store: CheckpointStore, id: number, kind: 'checkpoint' | 'savepoint' = 'checkpoint', retain = 2): Promise<CheckpointManifest> {
    const snapshot = await this.backend.snapshot(id);
    const ack: SubtaskAck = { checkpointId: id, stage: 0, subtask: 0, operators: [{ uid: 'count', snapshot: { keyed: snapshot.keyGroups, ...(snapshot.incremental === undefined ? {} : { incremental: snapshot.incremental }) } }] };
    const { blobs } = gatherCheckpoint([ack], this.parent);
    const manifest = await store.write(header(id, kind), blobs, { retain });
    this.parent = manifest;
    this.expected.set(id, new Map(this.#values));
    return manifest;
  }
}

async function restoredValues(store: CheckpointStore, id: number): Promise<Map<string, unknown>> {
  const loaded = await store.load(JOB, id);
  return valuesOf(loaded.keyedState('count'));
}

function valuesOf(keyed: ReadonlyMap<number, Uint8Array>): Promise<Map<string, unknown>> {
  return restoredValueState(keyed, M, 'count');
}

async function open(t: TestContext, dir: string): Promise<CheckpointStore> {
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  return store;
}

/** Five checkpoints: one full, then small changes (deltas), with retention 2. */
async function chain(store: CheckpointStore): Promise<Job> {
  const job = new Job();
  job.change(0, 4000, 1);
  await job.checkpoint(store, 1);
  for (let id = 2; id <= 5; id++) {
    job.change(id * 10, 20, id);
    await job.checkpoint(store, id);
  }
  return job;
}

test('retained incremental checkpoints restore exactly their state; blobs of deleted ones live on while named', async (t) => {
  const store = await open(t, await tempDir(t));
  const job = await chain(store);
  const list = await store.list(JOB);
  assert.deepEqual(list.map((c) => [c.id, c.status, c.incremental]), [[5, 'valid', true], [4, 'valid', true]], 'retention kept 2, both incremental');
  assert.ok(list[0]!.writtenBytes * 10 < list[0]!.totalBytes, `a small change writes a small checkpoint (${list[0]!.writtenBytes} of ${list[0]!.totalBytes} bytes)`);
  for (const id of [4, 5]) assert.deepEqual(await restoredValues(store, id), job.expected.get(id), `checkpoint ${id}`);
  const manifest = (await store.load(JOB, 5)).manifest;
  assert.ok(manifest.blobs.some((b) => b.key.includes('!000000000001!')), 'checkpoint 5 still names the full blobs checkpoint 1 wrote');

  await store.delete(JOB, 4);
  assert.deepEqual(await restoredValues(store, 5), job.expected.get(5), 'deleting the checkpoint before it leaves it whole');
});

test('a corrupt delta makes its checkpoint invalid; the restore falls back to the one before, which does not name it', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  const job = await chain(store);
  const newest = (await store.load(JOB, 5)).manifest;
  const delta = newest.blobs.find((b) => b.delta === true && b.key.includes('!000000000005!'));
  assert.ok(delta !== undefined, 'checkpoint 5 wrote a delta');
  await store.close();
  const db = new Level<string, Uint8Array>(checkpointDbPath(dir), { valueEncoding: 'view' });
  const bytes = (await db.get(delta.key))!;
  bytes[bytes.length - 1] ^= 0xff;
  await db.put(delta.key, bytes);
  await db.close();

  const reopened = await open(t, dir);
  assert.deepEqual((await reopened.list(JOB)).map((c) => [c.id, c.status]), [[5, 'corrupt'], [4, 'valid']]);
  const latest = await reopened.latestValid(JOB);
  assert.equal(latest?.manifest.id, 4);
  assert.deepEqual(await valuesOf(latest!.keyedState('count')), job.expected.get(4));
});

test('list: a damaged blob two checkpoints share makes both unusable, a missing one both incomplete; the others stay valid', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  await chain(store);
  const newest = (await store.load(JOB, 5)).manifest;
  const shared = newest.blobs.filter((b) => b.key.includes('!000000000004!'));
  assert.ok(shared.length >= 2, 'checkpoint 5 builds on blobs checkpoint 4 wrote');
  const own = newest.blobs.find((b) => b.key.includes('!000000000005!'));
  assert.ok(own !== undefined, 'checkpoint 5 wrote blobs of its own');
  assert.deepEqual((await store.list(JOB)).map((c) => [c.id, c.status]), [[5, 'valid'], [4, 'valid']]);
  await store.close();

  const db = new Level<string, Uint8Array>(checkpointDbPath(dir), { valueEncoding: 'view' });
  const bytes = (await db.get(shared[0]!.key))!;
  bytes[0] ^= 0xff;
  await db.put(shared[0]!.key, bytes);
  await db.close();
  const damaged = await open(t, dir);
  assert.deepEqual((await damaged.list(JOB)).map((c) => [c.id, c.status]), [[5, 'corrupt'], [4, 'corrupt']]);
  await damaged.close();

  const db2 = new Level<string, Uint8Array>(checkpointDbPath(dir), { valueEncoding: 'view' });
  await db2.del(shared[0]!.key);
  await db2.close();
  const missing = await open(t, dir);
  assert.deepEqual((await missing.list(JOB)).map((c) => [c.id, c.status]), [[5, 'incomplete'], [4, 'incomplete']]);
  assert.equal(await missing.latestValid(JOB).catch((err: unknown) => (isSluiceError(err) ? err.code : err)), 'SLUICE_CHECKPOINT_NONE_VALID');
});

test('a loaded checkpoint reads each key group from the store as it is restored; a blob gone since it was verified fails that read', async (t) => {
  const store = await open(t, await tempDir(t));
  const job = await chain(store);
  assert.deepEqual(await restoredValues(store, 5), job.expected.get(5));

  // Verified when loaded, read when restored: a blob deleted in between (checkpoint 5 deleted, its own blobs with it)
  // fails the read of its key group with a corrupt-checkpoint error; key groups that do not use it still read.
  const loaded = await store.load(JOB, 5);
  const chains = loaded.keyedState('count', { readOnce: true });
  const own = new Set(loaded.manifest.blobs.filter((b) => b.key.includes('!000000000005!')).map((b) => b.keyGroup));
  const changed = [...chains.keys()].find((g) => own.has(g));
  const unchanged = [...chains.keys()].find((g) => !own.has(g));
  assert.ok(changed !== undefined && unchanged !== undefined, 'checkpoint 5 wrote blobs for some key groups, not all');
  await store.delete(JOB, 5);
  assert.ok(chains.get(unchanged)!.length > 0);
  assert.throws(
    () => chains.get(changed),
    (err: unknown) => isSluiceError(err) && err.code === 'SLUICE_CHECKPOINT_CORRUPT' && /changed after it was verified: blob \S+ is missing/.test(err.message),
  );
  await store.close();
  assert.throws(() => loaded.keyedState('count').get(unchanged), (err: unknown) => isSluiceError(err) && err.code === 'SLUICE_CHECKPOINT_STORE_CLOSED', 'reads need the store open');
});

test('a savepoint and an export of an incremental job stand alone: full blobs, format 1, the same state', async (t) => {
  const dir = await tempDir(t);
  const store = await open(t, dir);
  const job = await chain(store);
  job.change(500, 10, 6);
  const savepoint = await job.checkpoint(store, 6, 'savepoint');
  assert.equal(savepoint.formatVersion, 1);
  assert.ok(savepoint.blobs.every((b) => b.key.includes('!000000000006!') && b.delta === undefined), 'only its own full blobs');
  assert.deepEqual(await restoredValues(store, 6), job.expected.get(6));
  // The job goes on from the savepoint: its next delta extends the savepoint's full blobs.
  job.change(600, 10, 7);
  const next = await job.checkpoint(store, 7);
  assert.ok(next.blobs.some((b) => b.key.includes('!000000000006!')) && next.blobs.some((b) => b.delta === true));
  assert.deepEqual(await restoredValues(store, 7), job.expected.get(7));

  const file = join(dir, 'cp7.export');
  await store.exportTo(JOB, 7, file);
  const imported = await store.importFrom(file, { job: JOB });
  assert.equal(imported.formatVersion, 1);
  assert.deepEqual(await restoredValues(store, imported.id), job.expected.get(7), 'the export restores the same state');
});

test('key groups that lost all their state end their chains: a savepoint then holds none, and the next checkpoint builds on it', async (t) => {
  const store = await open(t, await tempDir(t));
  const job = new Job();
  job.change(0, 3000, 1);
  await job.checkpoint(store, 1);
  job.clear(0, 3000);
  const savepoint = await job.checkpoint(store, 2, 'savepoint');
  assert.equal(savepoint.blobs.filter((b) => b.keyGroup !== undefined).length, 0, 'no key group has state, none has a chain');
  job.change(10, 5, 3); // new state in some key groups: they start new chains
  const next = await job.checkpoint(store, 3);
  assert.ok(next.blobs.length > 0 && next.blobs.every((b) => b.delta === undefined), 'full blobs only');
  assert.deepEqual(await restoredValues(store, 3), job.expected.get(3));
});

test('a checkpoint that builds on blobs deleted meanwhile is refused with a clear error, and nothing is stored', async (t) => {
  const store = await open(t, await tempDir(t));
  const job = await chain(store);
  await store.delete(JOB, 5);
  await store.delete(JOB, 4);
  job.change(0, 5, 6);
  await assert.rejects(job.checkpoint(store, 6), (err: unknown) => {
    assert.ok(isSluiceError(err) && err.code === 'SLUICE_CHECKPOINT_WRITE_FAILED', String(err));
    assert.match(err.message, /builds on blobs that no longer exist/);
    return true;
  });
  assert.deepEqual(await store.list(JOB), []);
});

/** The checkpoint as writeExportFile sees it, noting at each blob read how much of the export file is written. */
function watchedReads(loaded: VerifiedCheckpoint, dir: string, file: string): { checkpoint: VerifiedCheckpoint; reads: Array<{ key: string; writtenBytes: number }> } {
  const reads: Array<{ key: string; writtenBytes: number }> = [];
  const partial = (): number => {
    const tmp = readdirSync(dir).find((name) => name.startsWith(`${basename(file)}.tmp-`));
    return tmp === undefined ? -1 : statSync(join(dir, tmp)).size;
  };
  const checkpoint = {
    manifest: loaded.manifest,
    blob: (key: string) => {
      reads.push({ key, writtenBytes: partial() });
      return loaded.blob(key);
    },
  } as VerifiedCheckpoint;
  return { checkpoint, reads };
}

test('an export is written one merged chain at a time, each read after the one before it is written; it imports to the same state', async (t) => {
  const dir = await tempDir(t);
  const store = await open(t, dir);
  const job = await chain(store);
  const loaded = (await store.load(JOB, 5)) as VerifiedCheckpoint;
  const file = join(dir, 'cp5.export');
  const { checkpoint, reads } = watchedReads(loaded, dir, file);
  await writeExportFile(checkpoint, file);
  assert.equal(reads.length, loaded.manifest.blobs.length, 'every blob read once');
  // A chain's blobs are read together; the next chain's only once the merged one is in the file.
  const firstReadOfGroup = new Map<number, number>();
  for (const read of reads) {
    const keyGroup = loaded.manifest.blobs.find((b) => b.key === read.key)!.keyGroup!;
    if (!firstReadOfGroup.has(keyGroup)) firstReadOfGroup.set(keyGroup, read.writtenBytes);
  }
  const sizes = [...firstReadOfGroup.values()];
  for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! > sizes[i - 1]!, `chain ${i} was read after chain ${i - 1} was written (${sizes.join(', ')})`);
  assert.deepEqual(readdirSync(dir).filter((name) => name.includes('.tmp-')), [], 'no partial file left');

  const imported = await store.importFrom(file, { job: JOB });
  assert.equal(imported.formatVersion, 1);
  assert.equal(imported.blobs.length, firstReadOfGroup.size, 'one full blob per chain');
  assert.deepEqual(await restoredValues(store, imported.id), job.expected.get(5));
});

test('an export file written before the manifest went last (manifest first, blobs as typed arrays) still imports', async (t) => {
  const dir = await tempDir(t);
  const store = await open(t, dir);
  const job = await chain(store);
  const savepoint = await store.load(JOB, (await job.checkpoint(store, 6, 'savepoint')).id);
  const blobs = savepoint.manifest.blobs.map((ref) => new Uint8Array((savepoint as VerifiedCheckpoint).blob(ref.key)));
  const file = join(dir, 'old-layout.export');
  writeFileSync(file, new Packr({ useRecords: false, moreTypes: true }).pack({ format: 'sluice-checkpoint-export', version: 1, manifest: savepoint.manifest, blobs }));
  const imported = await store.importFrom(file, { job: JOB });
  assert.deepEqual(await restoredValues(store, imported.id), job.expected.get(6));
});

test('an export to a folder that does not exist fails with SLUICE_CHECKPOINT_WRITE_FAILED and says what to check', async (t) => {
  const dir = await tempDir(t);
  const store = await open(t, dir);
  await chain(store);
  await assert.rejects(store.exportTo(JOB, 5, join(dir, 'missing', 'cp5.export')), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_WRITE_FAILED') && /check the path and free space/.test((e as Error).message));
});

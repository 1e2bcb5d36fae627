/**
 * A checkpoint store that lost checkpoints when LevelDB reopened it (a damaged record in its log is dropped without
 * an error) refuses to restore an older one, which would repeat committed output; clearing the job's checkpoints or
 * starting afresh accepts the loss. The id ledger beside the store (runtime/checkpoint/id-ledger.ts) is what knows.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { CheckpointStore, checkpointDbPath, type BlobInput, type CheckpointManifest } from '../../../runtime/checkpoint/index.ts';
import { damageLevelDbLog } from '../../support/damage-leveldb-log.ts';
import { tempDir } from '../../support/temp-dir.ts';

function header(job: string, id: number): Omit<CheckpointManifest, 'blobs' | 'totalBytes' | 'formatVersion'> {
  return { job, id, kind: 'checkpoint', timestamp: 1_700_000_000_000 + id, durationMs: 5, parallelism: 1, maxParallelism: 128, operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }], sourcePositions: {} };
}

const blobs = (id: number): BlobInput[] => [{ operatorUid: 'count', keyGroup: 3, bytes: new Uint8Array(100).fill(id) }];

async function storeWith(t: TestContext, dir: string, ids: number[]): Promise<void> {
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  for (const id of ids) await store.write(header('orders', id), blobs(id));
  await store.close();
}

test('a store whose LevelDB log was damaged refuses to restore what is left, and says how to recover; --fresh-style ids stay above the lost ones', async (t) => {
  const dir = await tempDir(t);
  await storeWith(t, dir, [1, 2]);
  await damageLevelDbLog(checkpointDbPath(dir));

  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  assert.deepEqual(await store.ids('orders'), [], 'LevelDB dropped the damaged records without an error');
  await assert.rejects(store.latestValid('orders'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'SLUICE_CHECKPOINT_STORE_DAMAGED');
    assert.match(err.message, /the checkpoint store lost checkpoints of job "orders": it stored checkpoint 2, but the store now ends at none/);
    assert.match(err.message, /Restore the data directory from a backup, or start the job over: sluice run --fresh, or sluice checkpoint clear/);
    return true;
  });
  assert.equal((await store.lostCheckpoints('orders'))?.code, 'SLUICE_CHECKPOINT_STORE_DAMAGED', 'listings can show the loss too');
  assert.equal(await store.nextId('orders'), 3, 'a fresh start never reuses the ids of lost checkpoints');
  assert.equal(await store.latestValid('other-job'), undefined, 'other jobs are not affected');

  // Clearing the job's checkpoints accepts the loss: it starts from the sources' earliest positions.
  await store.deleteAll('orders');
  assert.equal(await store.lostCheckpoints('orders'), undefined);
  assert.equal(await store.latestValid('orders'), undefined);
  await store.write(header('orders', 3), blobs(3));
  assert.equal((await store.latestValid('orders'))?.manifest.id, 3);
});

test('the id ledger: a data directory from before it restores as before, and an unreadable ledger is a warning, not a refusal', async (t) => {
  const dir = await tempDir(t);
  await storeWith(t, dir, [1]);
  await rm(join(dir, 'checkpoint-ids.json'));
  const before = await CheckpointStore.open(dir);
  assert.equal((await before.latestValid('orders'))?.manifest.id, 1);
  await before.write(header('orders', 2), blobs(2));
  await before.close();

  await writeFile(join(dir, 'checkpoint-ids.json'), '{ not json');
  const lines: Array<{ msg?: string }> = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg?: string }) });
  const store = await CheckpointStore.open(dir, { logger });
  t.after(() => store.close());
  assert.equal((await store.latestValid('orders'))?.manifest.id, 2);
  assert.ok(lines.some((l) => /checkpoint id ledger is not valid JSON/.test(l.msg ?? '')), JSON.stringify(lines));
  await store.write(header('orders', 3), blobs(3));
  assert.equal((await store.latestValid('orders'))?.manifest.id, 3, 'the next checkpoint writes the ledger anew');
});

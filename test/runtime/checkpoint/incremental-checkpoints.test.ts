import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Level } from 'level';
import { CheckpointStore, checkpointDbPath } from '../../../runtime/checkpoint/index.ts';
import { HeapKeyedStateBackend } from '../../../runtime/state/index.ts';
import { startJob } from '../../../runtime/testing/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import job, { expectedFinalState, expectedUpdates, LEVELDB_STATE, sessionsJob, type Update } from './fixtures/incremental-sessions.ts';

const byKeyThenI = (a: Update, b: Update): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i);

function assertExact(got: readonly Update[], expected: readonly Update[]): void {
  assert.equal(got.length, expected.length, 'one update per record: none lost, none duplicated');
  const sorted = [...got].sort(byKeyThenI);
  const want = [...expected].sort(byKeyThenI);
  for (let j = 0; j < want.length; j++) {
    if (JSON.stringify(sorted[j]) !== JSON.stringify(want[j])) {
      assert.deepEqual(sorted[j], want[j], `update ${j} (key ${want[j]!.key}) differs`);
    }
  }
  // Per-key order as emitted: each key's updates in input order.
  const last = new Map<string, number>();
  for (const u of got) {
    assert.ok((last.get(u.key) ?? -1) < u.i, `key ${u.key}: update of record ${u.i} out of order`);
    last.set(u.key, u.i);
  }
}

const backends = [
  { name: 'heap', job },
  { name: 'leveldb', job: sessionsJob(LEVELDB_STATE) },
] as const;

for (const backend of backends) {
  for (const seed of [1, 2, 3]) {
    test(`incremental checkpoints (${backend.name} backend): seeded crashes at every checkpoint stage (seed ${seed}) give exactly the failure-free output`, async (t) => {
      // The job may end only once every fault fired and an incremental checkpoint wrote less than its state: on a loaded
      // machine a run could otherwise end before either happened, and this test would check nothing.
      const gate = join(await tempDir(t), 'end');
      const run = await startJob(backend.job, { faults: { crashes: 5, seed }, checkpointIntervalMs: 20, params: { holdEndUntil: gate } });
      t.after(() => run.close());
      let ended = false; // a job that fails before the gate opens fails the assertions below now, not at the deadline
      void run.finished.then(() => (ended = true));
      await waitFor(() => ended || (run.faults.fired.length === 5 && run.checkpoints.some((m) => m.formatVersion === 2 && (m.writtenBytes ?? m.totalBytes) < m.totalBytes)), {
        timeoutMs: 120_000,
        message: 'every fault fired and an incremental checkpoint wrote less than its state',
        describe: () => ({ fired: run.faults.fired.length, checkpoints: run.checkpoints.map((m) => [m.id, m.formatVersion, m.writtenBytes, m.totalBytes]) }),
      });
      await writeFile(gate, '');
      assert.equal(await run.finished, 'finished');
      assert.equal(run.faults.fired.length, 5, `every planned fault fired: ${JSON.stringify(run.faults.fired.map((f) => f.description))}`);
      assertExact(run.outputs<Update>('out'), expectedUpdates());
      const incremental = run.checkpoints.filter((m) => m.formatVersion === 2);
      assert.ok(incremental.length > 0, 'some checkpoints were incremental');
      assert.ok(
        incremental.some((m) => (m.writtenBytes ?? m.totalBytes) < m.totalBytes),
        'an incremental checkpoint wrote less than the state it restores',
      );
    });
  }

  test(`incremental checkpoints (${backend.name} backend): a failure while a checkpoint writes its blobs, and right after retention deleted old ones, loses nothing`, async (t) => {
    let writes = 0;
    let thrown = 0;
    const run = await startJob(backend.job, {
      checkpointIntervalMs: 20,
      faults: { crashes: 3, seed: 11, points: ['sink-commit'] }, // after the store write (and its retention)
      beforeCheckpointWrite: () => {
        writes++;
        if (writes === 3 || writes === 6) {
          thrown++;
          throw new Error('disk full (injected)'); // mid-write: blobs, no manifest
        }
      },
    });
    t.after(() => run.close());
    assert.equal(await run.finished, 'finished');
    assertExact(run.outputs<Update>('out'), expectedUpdates());
    const failed = run.events.filter((e) => e.type === 'checkpoint-failed');
    assert.ok(thrown >= 1, 'a write failed');
    assert.equal(failed.length, thrown, 'every injected write failure failed its checkpoint');
  });
}

test('a finished incremental job keeps its final checkpoint whole: the blobs it shares with deleted checkpoints stay, nothing else does', async (t) => {
  const dataDir = await tempDir(t);
  // The job ends only after several incremental checkpoints (on a loaded machine it could otherwise end before a second).
  const gate = join(await tempDir(t), 'end');
  const run = await startJob(job, { checkpointIntervalMs: 20, dataDir, params: { holdEndUntil: gate } });
  t.after(() => run.close());
  let ended = false;
  void run.finished.then(() => (ended = true));
  await waitFor(() => ended || run.checkpoints.filter((m) => m.formatVersion === 2).length > 2, { timeoutMs: 120_000, message: 'several incremental checkpoints' });
  await writeFile(gate, '');
  assert.equal(await run.finished, 'finished');
  assert.ok(run.checkpoints.filter((m) => m.formatVersion === 2).length > 2, 'several incremental checkpoints');
  await run.close();

  const store = await CheckpointStore.open(dataDir);
  const list = await store.list('incremental-sessions');
  assert.equal(list.length, 1, 'only the final checkpoint is kept');
  assert.equal(list[0]!.status, 'valid');
  const final = await store.load('incremental-sessions', list[0]!.id);

  // The final checkpoint holds exactly each key's final state: key groups unchanged for many checkpoints included.
  // (A loaded checkpoint reads its blobs from the store as they are restored: the store closes after.)
  const backend = new HeapKeyedStateBackend({ maxParallelism: final.manifest.maxParallelism, range: { start: 0, end: final.manifest.maxParallelism - 1 } });
  await backend.restore(final.keyedState('sessions'));
  await store.close();
  const expected = expectedFinalState();
  assert.equal(backend.keyCount(), expected.size, 'as many keys with state as the input leaves');
  for (const [key, s] of expected) {
    backend.setCurrentKey(key);
    assert.equal(backend.getValueState<number>('count').value(), s.count, `count of ${key}`);
    assert.deepEqual(new Map(backend.getMapState<number, number>('buckets').entries()), s.buckets, `buckets of ${key}`);
    assert.deepEqual(backend.getListState<number>('recent').get(), s.recent, `recent of ${key}`);
  }

  const db = new Level<string, Uint8Array>(checkpointDbPath(dataDir), { valueEncoding: 'view' });
  t.after(() => db.close());
  const stored: string[] = [];
  for await (const key of db.keys({ gte: 'checkpoint!blob!', lt: 'checkpoint!blob"' })) stored.push(key);
  assert.deepEqual(stored.sort(), final.manifest.blobs.map((b) => b.key).sort(), 'exactly the blobs the final checkpoint names');
});

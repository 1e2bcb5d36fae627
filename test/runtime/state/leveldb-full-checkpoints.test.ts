/**
 * Full checkpoints of LevelDB state (`checkpoints.incremental: false`): every checkpoint stands alone, yet the
 * subtasks send only what changed (deltas, and references to the key groups that did not), and the store merges
 * each key group's chain into a full blob as it writes. So a full checkpoint never needs the whole state in memory,
 * and state is exactly once across crashes as with incremental checkpoints.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, datagen } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore, isIncremental } from '../../../runtime/checkpoint/index.ts';
import { blobPrefix, isShared, type CheckpointBlobs } from '../../../runtime/checkpoint/store-layout.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { startJob } from '../../../runtime/testing/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const KEYS = 40;
const RECORDS = 4_000;

interface Count {
  key: string;
  n: number;
}

/** A running count per key; `ratePerSecond` spreads the input over many 20 ms checkpoints. */
function countingJob(name: string) {
  return defineJob(
    { name, parallelism: 2, state: { backend: 'leveldb', cacheBytes: 8 * 1024 }, checkpoints: { intervalMs: 20, incremental: false } },
    (env) => {
      env
        .source(datagen({ count: RECORDS, splits: 2, batchSize: 20, ratePerSecond: 8_000, record: (i) => ({ key: `k${i % KEYS}`, n: 1 }) }))
        .uid('numbers')
        .keyBy((r) => r.key)
        .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
        .uid('counts')
        .sink(collectSink())
        .uid('out');
    },
  );
}

test('full checkpoints of LevelDB state are written from deltas: the subtasks send what changed, every stored checkpoint stands alone', async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  // What the coordinator hands the store: a full snapshot would be every key group's blob, each a `BlobInput` with
  // bytes and no `delta`; a delta-made checkpoint refers to the previous one's blobs or adds deltas to them.
  const handed: { id: number; fromDeltas: boolean; keyGroups: number }[] = [];
  const write = store.write.bind(store);
  store.write = async (manifest, blobs: CheckpointBlobs, options) => {
    const stored = await write(manifest, blobs, options);
    const keyGroups = stored.blobs.filter((ref) => ref.operatorUid === 'counts' && ref.keyGroup !== undefined).length;
    handed.push({ id: manifest.id, fromDeltas: blobs.some((blob) => isShared(blob) || blob.delta === true), keyGroups });
    return stored;
  };
  const job = countingJob('leveldb-full');
  assert.equal(await new JobRunner({ job, store, logger: silentLogger() }).run(), 'finished');

  // A key group's first blob is full (there is nothing to build on); once a checkpoint holds every key's key group,
  // each later one must come as deltas and references.
  const allKeyGroups = handed.at(-1)!.keyGroups;
  const first = handed.findIndex((h) => h.keyGroups === allKeyGroups);
  const later = handed.slice(first + 1);
  assert.ok(later.length >= 2, `several checkpoints after the state was complete: ${JSON.stringify(handed)}`);
  assert.ok(later.every((h) => h.fromDeltas), `every later checkpoint came as deltas: ${JSON.stringify(handed)}`);
  const stored = await store.list('leveldb-full');
  assert.ok(stored.length > 0);
  for (const checkpoint of stored) {
    assert.equal(checkpoint.status, 'valid', `checkpoint ${checkpoint.id}: ${checkpoint.status}`);
    assert.equal(checkpoint.incremental, false, `checkpoint ${checkpoint.id} stands alone`);
  }
  const latest = await store.latestValid('leveldb-full');
  assert.ok(latest !== undefined && !isIncremental(latest.manifest), 'the newest checkpoint is full');
  const own = blobPrefix('leveldb-full', latest.manifest.id);
  for (const ref of latest.manifest.blobs) assert.ok(ref.delta !== true && ref.key.startsWith(own), `${ref.key}: the checkpoint's own full blob`);
});

test('with full checkpoints of LevelDB state, seeded crashes lose and repeat nothing: each key counts 1, 2, … in order', async (t) => {
  const run = await startJob(countingJob('leveldb-full-crashes'), { faults: { crashes: 6, seed: 11 } });
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  assert.ok(run.faults.fired.length > 0, 'some seeded crashes fired');
  assert.ok(run.checkpoints.length > 0 && run.checkpoints.every((m) => !isIncremental(m)), 'every checkpoint stands alone');
  const byKey = new Map<string, number[]>();
  for (const { key, n } of run.outputs<Count>('out')) byKey.set(key, [...(byKey.get(key) ?? []), n]);
  assert.equal(byKey.size, KEYS);
  for (const [key, counts] of byKey) {
    assert.deepEqual(counts, Array.from({ length: RECORDS / KEYS }, (_, i) => i + 1), `${key}: every count once, in order`);
  }
});

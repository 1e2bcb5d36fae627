/**
 * Full checkpoints (`checkpoints.incremental` false, the heap backend's default): every checkpoint stands alone, yet
 * subtasks send only what changed (deltas, and references to the key groups that did not), and the store merges
 * each key group's chain into a full blob as it writes — LevelDB subtasks always, so a full checkpoint never needs
 * the whole state in memory, and heap subtasks on worker threads that leave the main thread a core, so the records'
 * thread does not pack all of its state at every checkpoint. Other heap subtasks take full snapshots. State is
 * exactly once across crashes either way.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectSink, datagen, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore, isIncremental, type CheckpointManifest } from '../../../runtime/checkpoint/index.ts';
import { blobPrefix, isShared, type CheckpointBlobs } from '../../../runtime/checkpoint/store-layout.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { startJob } from '../../../runtime/testing/index.ts';
import { leavesMainThreadACore } from '../../../runtime/workers/index.ts';
import { assertCountedPerKey, indexesByKey } from '../../support/counted-per-key.ts';
import { tempDir } from '../../support/temp-dir.ts';
import fanOut, { keyOf, type Count as FanOutCount } from '../exec/fixtures/fan-out.ts';

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

interface Handed {
  readonly id: number;
  /** The subtasks' snapshots came (in part) as deltas or references to the previous checkpoint's blobs. */
  readonly fromDeltas: boolean;
  /** Key groups of operator "counts" in the stored checkpoint. */
  readonly keyGroups: number;
}

/**
 * Records what the coordinator hands `store` for each checkpoint: a full snapshot is every key group's blob, each a
 * `BlobInput` with bytes and no `delta`; a delta-made checkpoint refers to the previous one's blobs or adds deltas.
 */
function spyOnWrites(store: CheckpointStore): Handed[] {
  const handed: Handed[] = [];
  const write = store.write.bind(store);
  store.write = async (manifest, blobs: CheckpointBlobs, options) => {
    const stored = await write(manifest, blobs, options);
    const keyGroups = stored.blobs.filter((ref) => ref.operatorUid === 'counts' && ref.keyGroup !== undefined).length;
    handed.push({ id: manifest.id, fromDeltas: blobs.some((blob) => isShared(blob) || blob.delta === true), keyGroups });
    return stored;
  };
  return handed;
}

/** Checkpoints taken after one that held every key's key group (a key group's first blob is full: nothing to build on). */
function afterStateComplete(handed: readonly Handed[]): Handed[] {
  const all = Math.max(...handed.map((h) => h.keyGroups));
  return handed.slice(handed.findIndex((h) => h.keyGroups === all) + 1);
}

/** Every checkpoint `store` holds for `job` is valid and stands alone: only its own full blobs, format 1. */
async function assertStandAlone(store: CheckpointStore, job: string): Promise<void> {
  const stored = await store.list(job);
  assert.ok(stored.length > 0);
  for (const checkpoint of stored) {
    assert.equal(checkpoint.status, 'valid', `checkpoint ${checkpoint.id}: ${checkpoint.status}`);
    assert.equal(checkpoint.incremental, false, `checkpoint ${checkpoint.id} stands alone`);
  }
  const latest = await store.latestValid(job);
  assert.ok(latest !== undefined && !isIncremental(latest.manifest), 'the newest checkpoint is full');
  const own = blobPrefix(job, latest.manifest.id);
  for (const ref of latest.manifest.blobs) assert.ok(ref.delta !== true && ref.key.startsWith(own), `${ref.key}: the checkpoint's own full blob`);
}

test('full checkpoints of LevelDB state are written from deltas: the subtasks send what changed, every stored checkpoint stands alone', async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const handed = spyOnWrites(store);
  assert.equal(await new JobRunner({ job: countingJob('leveldb-full'), store, logger: silentLogger() }).run(), 'finished');
  const later = afterStateComplete(handed);
  assert.ok(later.length >= 2, `several checkpoints after the state was complete: ${JSON.stringify(handed)}`);
  assert.ok(later.every((h) => h.fromDeltas), `every later checkpoint came as deltas: ${JSON.stringify(handed)}`);
  await assertStandAlone(store, 'leveldb-full');
});

const FAN_OUT = new URL('../exec/fixtures/fan-out.ts', import.meta.url);
const FAN_OUT_RECORDS = 6_000;

for (const workers of [1, 2, 0]) {
  // Deltas when the workers leave the main thread a core to merge on (one worker on this machine's two or more cores).
  const deltas = leavesMainThreadACore(workers);
  const how = deltas ? 'send deltas' : 'take full snapshots';
  test(`heap subtasks on ${workers} worker threads (${availableParallelism()} cores) ${how} for full checkpoints; each stands alone, and a restart loses and repeats nothing`, async (t) => {
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(join(dir, 'data'));
    t.after(() => store.close());
    const handed = spyOnWrites(store);
    const params = new JobParams([['raw', join(dir, 'raw')], ['counts', join(dir, 'counts')], ['records', String(FAN_OUT_RECORDS)], ['failAt', String(FAN_OUT_RECORDS / 3)]]);
    const runner = new JobRunner({ job: fanOut as JobDefinition, params, store, workers, jobModule: FAN_OUT, logger: silentLogger() });
    assert.equal(await runner.run(), 'finished');
    assert.equal(runner.attempts, 2, 'the seeded failure restarted the job once');

    const later = afterStateComplete(handed);
    assert.ok(later.length >= 2, `several checkpoints after the state was complete: ${JSON.stringify(handed)}`);
    if (deltas) assert.ok(later.every((h) => h.fromDeltas), `every later checkpoint came as deltas: ${JSON.stringify(handed)}`);
    else assert.ok(handed.every((h) => !h.fromDeltas), `every checkpoint came as full snapshots: ${JSON.stringify(handed)}`);
    await assertStandAlone(store, 'fan-out');
    const counts = await readPartFiles<FanOutCount>(join(dir, 'counts'));
    assertCountedPerKey(counts.map((c) => ({ key: c.key, index: c.last, count: c.n })), indexesByKey(FAN_OUT_RECORDS, keyOf), (i) => (i < FAN_OUT_RECORDS / 2 ? 0 : 1));
  });
}

test('with full checkpoints of LevelDB state, seeded crashes lose and repeat nothing: each key counts 1, 2, … in order', async (t) => {
  const run = await startJob(countingJob('leveldb-full-crashes'), { faults: { crashes: 6, seed: 11 } });
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  assert.ok(run.faults.fired.length > 0, 'some seeded crashes fired');
  assert.ok(run.checkpoints.length > 0 && run.checkpoints.every((m: CheckpointManifest) => !isIncremental(m)), 'every checkpoint stands alone');
  const byKey = new Map<string, number[]>();
  for (const { key, n } of run.outputs<Count>('out')) byKey.set(key, [...(byKey.get(key) ?? []), n]);
  assert.equal(byKey.size, KEYS);
  for (const [key, counts] of byKey) {
    assert.deepEqual(counts, Array.from({ length: RECORDS / KEYS }, (_, i) => i + 1), `${key}: every count once, in order`);
  }
});

/**
 * Where a cluster member starts a job it was given (start-point.ts): its own copy of the newest replicated checkpoint
 * when it still holds it, the replicated copy otherwise, and the start overrides of the checkpoint tools — each in
 * force until a checkpoint is taken under it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClusterCheckpointTools } from '../../../runtime/cluster/checkpoints/checkpoint-tools.ts';
import { prepareStartPoint } from '../../../runtime/cluster/checkpoints/start-point.ts';
import type { CheckpointManifest, CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import type { KafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { blobsOf, JOB, logger, movingAfterScans, PARTITIONS, publisher, readView, replicationSetup, writeCheckpoint } from './support/replicated-checkpoints.ts';

async function toolsFor(t: Parameters<typeof replicationSetup>[0], cluster: KafkaCluster, topic: string): Promise<ClusterCheckpointTools> {
  return new ClusterCheckpointTools({ kafka: cluster.kafka(), topic, partitions: PARTITIONS, dataDir: await tempDir(t), member: () => 'tool', logger });
}

/** Checkpoints 1..n of epoch 1, each replicated (stamped with `override`). */
async function replicate(cluster: KafkaCluster, topic: string, store: CheckpointStore, n: number): Promise<CheckpointManifest[]> {
  const p = await publisher(cluster, topic, store, 1, await readView(cluster, topic));
  await p.claim(null);
  const out: CheckpointManifest[] = [];
  for (let id = 1; id <= n; id++) {
    out.push(await writeCheckpoint(store, id, out[out.length - 1]));
    await p.publish(out[out.length - 1]!);
  }
  return out;
}

test('a job coming back to a member restores its local copy; a newer local checkpoint that was never replicated goes', async (t) => {
  const { cluster, topic, open } = await replicationSetup(t);
  const tools = await toolsFor(t, cluster, topic);
  const home = await open();
  const written = await replicate(cluster, topic, home, 2);
  await writeCheckpoint(home, 3, written[1]); // completed locally, never replicated: its output never committed

  const back = await prepareStartPoint({ job: JOB, epoch: 2, override: undefined, store: home, tools, logger });
  assert.equal(back.localCopy, true, 'no blob came from the topic');
  assert.deepEqual(back.basedOn, { epoch: 1, id: 2 });
  assert.deepEqual((await home.list(JOB)).map((c) => c.id), [2], 'only the replicated checkpoint stays');

  const elsewhere = await open();
  const moved = await prepareStartPoint({ job: JOB, epoch: 3, override: undefined, store: elsewhere, tools, logger });
  assert.equal(moved.localCopy, false);
  assert.deepEqual(await blobsOf(elsewhere, 2), await blobsOf(home, 2), 'the replicated copy, adopted');

  // A local checkpoint 2 that is not the replicated one (another lineage) is replaced, not restored.
  const other = await open();
  await writeCheckpoint(other, 1, undefined);
  await writeCheckpoint(other, 2, undefined);
  const replaced = await prepareStartPoint({ job: JOB, epoch: 4, override: undefined, store: other, tools, logger });
  assert.equal(replaced.localCopy, false);
  assert.deepEqual(await blobsOf(other, 2), await blobsOf(home, 2));
});

test('start overrides: catch-up, import and clear apply until a checkpoint is taken under them', async (t) => {
  const { cluster, topic, open } = await replicationSetup(t);
  const tools = await toolsFor(t, cluster, topic);
  const owner = await open();
  await replicate(cluster, topic, owner, 3);
  // Checkpoint 1 stands alone (no chain yet), so its export needs no merging of (these random) state bytes.
  const exported = await tools.exportOf(JOB, 1);
  const exportedBlobs = (await blobsOf(owner, 1)).sort();

  // catch-up: the latest state, sources from their latest positions …
  const catchUp = { serial: 5, kind: 'catch-up' as const };
  const first = await prepareStartPoint({ job: JOB, epoch: 2, override: catchUp, store: owner, tools, logger });
  assert.deepEqual({ basedOn: first.basedOn, sourceStart: first.sourceStart, override: first.override }, { basedOn: { epoch: 1, id: 3 }, sourceStart: 'latest', override: 5 });
  // … again after a crash before its first checkpoint, and no longer once one was taken under it.
  assert.equal((await prepareStartPoint({ job: JOB, epoch: 2, override: catchUp, store: owner, tools, logger })).sourceStart, 'latest');
  const run = await publisher(cluster, topic, owner, 2, first.view, { override: 5 });
  await run.claim(first.basedOn);
  await run.publish(await writeCheckpoint(owner, 4, (await owner.latestValid(JOB))!.manifest));
  assert.equal((await prepareStartPoint({ job: JOB, epoch: 2, override: catchUp, store: owner, tools, logger })).sourceStart, undefined);

  // import: an export of checkpoint 1, restored under an id above every id in the topic, replicated by its owner.
  await tools.publishImport(JOB, 7, exported.bytes);
  const fresh = await open();
  const imported = await prepareStartPoint({ job: JOB, epoch: 3, override: { serial: 7, kind: 'import' }, store: fresh, tools, logger });
  assert.equal(imported.imported?.manifest.id, 5);
  assert.equal(imported.imported?.manifest.kind, 'savepoint');
  assert.deepEqual(imported.basedOn, { epoch: 3, id: 5 });
  assert.deepEqual(imported.imported?.manifest.sourcePositions, exported.checkpoint.manifest.sourcePositions);
  assert.deepEqual((await blobsOf(fresh, 5)).sort(), exportedBlobs, 'the imported state is checkpoint 1\'s');
  const owner3 = await publisher(cluster, topic, fresh, 3, imported.view, { override: 7 });
  await owner3.claim(imported.basedOn);
  await owner3.publish(imported.imported!.manifest);
  await tools.tombstone(JOB, imported.imported!.importKeys);
  const afterImport = await readView(cluster, topic);
  assert.deepEqual(afterImport.importKeys(7), [], 'the import is gone once its savepoint is replicated');
  const again = await prepareStartPoint({ job: JOB, epoch: 3, override: { serial: 7, kind: 'import' }, store: fresh, tools, logger });
  assert.equal(again.imported, undefined, 'applied: the next start restores the imported savepoint as the newest checkpoint');
  assert.deepEqual(again.basedOn, { epoch: 3, id: 5 });

  // An import that is not in the topic: a clear error, nothing restored.
  await assert.rejects(prepareStartPoint({ job: JOB, epoch: 4, override: { serial: 99, kind: 'import' }, store: await open(), tools, logger }), { code: 'SLUICE_CLUSTER_IMPORT_MISSING' });

  // clear: every checkpoint of the job tombstoned, no state, sources from their earliest positions.
  const cleared = await prepareStartPoint({ job: JOB, epoch: 4, override: { serial: 9, kind: 'clear' }, store: fresh, tools, logger });
  assert.deepEqual({ basedOn: cleared.basedOn, sourceStart: cleared.sourceStart }, { basedOn: null, sourceStart: 'earliest' });
  assert.deepEqual((await readView(cluster, topic)).keys(), [], 'nothing but the claim is left of the job in the topic');
  assert.deepEqual(await fresh.list(JOB), []);
});

test('a checkpoint that moved in the topic between the scan and the read of its blobs is read again; one that keeps moving fails retriably', async (t) => {
  const { cluster, topic, open } = await replicationSetup(t);
  const tools = await toolsFor(t, cluster, topic);
  const home = await open();
  await replicate(cluster, topic, home, 2);
  const moving = movingAfterScans(tools, cluster, topic);
  moving.moves = 1;
  const fresh = await open();
  const start = await prepareStartPoint({ job: JOB, epoch: 2, override: undefined, store: fresh, tools, logger });
  assert.equal(moving.scans, 2, 'the topic was read again once the first read found the chunks gone');
  assert.deepEqual(start.basedOn, { epoch: 1, id: 2 });
  assert.deepEqual(await blobsOf(fresh, 2), await blobsOf(home, 2));

  moving.scans = 0;
  moving.moves = Infinity;
  const other = await open();
  await assert.rejects(prepareStartPoint({ job: JOB, epoch: 3, override: undefined, store: other, tools, logger }), { code: 'SLUICE_CLUSTER_CHECKPOINT_CHANGED', retriable: true });
  assert.equal(moving.scans, 3);
  assert.equal(await other.latestValid(JOB), undefined, 'nothing adopted');
});

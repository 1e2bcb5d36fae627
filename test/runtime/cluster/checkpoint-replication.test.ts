import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { CheckpointManifest } from '../../../runtime/checkpoint/index.ts';
import { chunkKey, partitionOf } from '../../../runtime/cluster/checkpoints/replicated-records.ts';
import { scanPartition } from '../../../runtime/cluster/kafka/partition-scan.ts';
import { blobsOf, checkpointHeader, JOB, publisher, readView as read, replicationSetup as setup, writeCheckpoint } from './support/replicated-checkpoints.ts';

test('replicated incremental checkpoints come back whole in another store, chains and chunks included', async (t) => {
  const { cluster, topic, open } = await setup(t);
  const a = await open();
  const empty = await read(cluster, topic);
  assert.equal(empty.latestComplete(), undefined);
  const p = await publisher(cluster, topic, a, 1, empty);
  await p.claim(null);
  let parent: CheckpointManifest | undefined;
  const written: CheckpointManifest[] = [];
  for (let id = 1; id <= 5; id++) {
    parent = await writeCheckpoint(a, id, parent);
    written.push(parent);
    await p.publish(parent);
  }
  const view = await read(cluster, topic);
  assert.deepEqual(view.claim && { epoch: view.claim.epoch, basedOn: view.claim.basedOn }, { epoch: 1, basedOn: null });
  // Retention kept the newest 3 in the topic, as in the store.
  assert.deepEqual(view.candidates.map((r) => r.manifest.id), [5, 4, 3]);
  const latest = view.latestComplete();
  assert.ok(latest);
  assert.equal(latest.manifest.id, 5);
  assert.ok(latest.manifest.blobs.some((ref) => ref.key.includes('!000000000004!')), 'checkpoint 5 builds on a delta of 4');

  const b = await open();
  await b.adopt(latest.manifest, view.blobs(latest));
  await b.adopt(latest.manifest, view.blobs(latest)); // the same checkpoint again: nothing to do
  assert.deepEqual(await blobsOf(b, 5), await blobsOf(a, 5));
  assert.deepEqual((await b.latestValid(JOB))?.manifest.sourcePositions, { source: [{ split: 'orders-0', position: 50 }] });
  assert.equal(await b.nextId(JOB), 6, 'ids continue after the adopted checkpoint');
  // Retention tombstoned the chunks that only dropped checkpoints named (checkpoint 1's key group 1), not the shared ones.
  const latestValues = new Map<string, Buffer | null>();
  await scanPartition(cluster.kafka(), topic, partitionOf(JOB, 3), (r) => latestValues.set(r.key, r.value));
  const own = (id: number, keyGroup: number): string => written[id - 1]!.blobs.find((ref) => ref.keyGroup === keyGroup && ref.key.includes(`!${String(id).padStart(12, '0')}!`))!.key;
  assert.equal(latestValues.get(chunkKey(1, own(1, 1), 0)), null);
  assert.ok(latestValues.get(chunkKey(1, own(5, 1), 0)));
  const fullOf5 = written[4]!.blobs.find((ref) => ref.keyGroup === 0 && ref.delta !== true)!.key;
  assert.ok(latestValues.get(chunkKey(1, fullOf5, 2)), 'the base of checkpoint 5\'s chain stays');
});

test('a missing or damaged chunk falls back to the checkpoint before; records land in the job\'s one partition', async (t) => {
  const { cluster, topic, open } = await setup(t);
  const a = await open();
  const p = await publisher(cluster, topic, a, 1, await read(cluster, topic));
  const one = await writeCheckpoint(a, 1, undefined);
  await p.publish(one);
  const two = await writeCheckpoint(a, 2, one);
  await p.publish(two);
  const producer = await cluster.producer();
  const delta = two.blobs.find((ref) => ref.delta === true)!;
  await producer.send({ topic, messages: [{ key: chunkKey(1, delta.key, 0), value: Buffer.from('damaged'), partition: partitionOf(JOB, 3) }] });
  assert.equal((await read(cluster, topic)).latestComplete()?.manifest.id, 1);

  const full = one.blobs.find((ref) => ref.keyGroup === 0)!;
  await producer.send({ topic, messages: [{ key: chunkKey(1, full.key, 1), value: null, partition: partitionOf(JOB, 3) }] });
  assert.equal((await read(cluster, topic)).latestComplete(), undefined, 'both checkpoints need the full blob');

  const admin = await cluster.admin();
  const offsets = await admin.fetchTopicOffsets(topic);
  assert.deepEqual(offsets.filter((o) => Number(o.high) > 0).map((o) => o.partition), [partitionOf(JOB, 3)]);
});

test('checkpoints a member writes after another claimed the job are refused', async (t) => {
  const { cluster, topic, open } = await setup(t);
  const stale = await open();
  const oldOwner = await publisher(cluster, topic, stale, 1, await read(cluster, topic));
  let parent: CheckpointManifest | undefined;
  for (let id = 1; id <= 2; id++) {
    parent = await writeCheckpoint(stale, id, parent);
    await oldOwner.publish(parent);
  }
  // A new owner (epoch 2) takes the job from checkpoint 2 …
  const view = await read(cluster, topic);
  const base = view.latestComplete()!;
  const fresh = await open();
  await fresh.adopt(base.manifest, view.blobs(base));
  const newOwner = await publisher(cluster, topic, fresh, 2, view);
  await newOwner.claim({ epoch: base.epoch, id: base.manifest.id });
  // … while the old one, not knowing, claims the job again (it was starting it when it lost it) and writes
  // checkpoint 3 (and the new owner has not checkpointed yet).
  await oldOwner.claim({ epoch: base.epoch, id: base.manifest.id });
  parent = await writeCheckpoint(stale, 3, parent);
  await oldOwner.publish(parent);
  const afterStale = await read(cluster, topic);
  assert.deepEqual(afterStale.candidates.map((r) => r.manifest.id), [2, 1], 'the stale checkpoint 3 is not among them');
  assert.equal(afterStale.latestComplete()?.manifest.id, 2);
  assert.equal(afterStale.claim?.epoch, 2, 'a claim of an older epoch does not replace a newer one');

  // The new owner's own checkpoint 3 (same id, newer epoch) is the one to restore.
  const mine = await writeCheckpoint(fresh, 3, (await fresh.latestValid(JOB))!.manifest);
  await newOwner.publish(mine);
  const nowView = await read(cluster, topic);
  const now = nowView.latestComplete();
  assert.equal(now?.epoch, 2);
  assert.equal(now?.manifest.id, 3);
  const read3: string[] = [];
  for await (const [key] of nowView.blobs(now)) read3.push(key);
  assert.deepEqual(read3.sort(), mine.blobs.map((r) => r.key).sort());
});

test("the owner reads a large savepoint's blobs in reads of at most 8 MiB, each blob once, and it comes back whole", async (t) => {
  const { cluster, topic, open } = await setup(t);
  const a = await open();
  const MiB = 1024 * 1024;
  const blobs = [0, 1, 2, 3].map((keyGroup) => ({ operatorUid: 'count', keyGroup, bytes: randomBytes(3 * MiB + keyGroup) }));
  const savepoint = await a.write(checkpointHeader(1, 'savepoint'), [...blobs, { operatorUid: 'source', subtask: 0, bytes: randomBytes(40) }], { retain: 3 });
  const reads: number[][] = [];
  const readBlobs = a.readBlobs.bind(a);
  a.readBlobs = (refs) => {
    reads.push(refs.map((ref) => ref.size));
    return readBlobs(refs);
  };
  const p = await publisher(cluster, topic, a, 1, await read(cluster, topic));
  await p.claim(null);
  await p.publish(savepoint);

  const bySize = (x: number, y: number): number => x - y;
  assert.deepEqual(reads.flat().sort(bySize), savepoint.blobs.map((ref) => ref.size).sort(bySize), 'every blob read once');
  for (const sizes of reads) assert.ok(sizes.length === 1 || sizes.reduce((x, y) => x + y) <= 8 * MiB, `one read of ${sizes.join(' + ')} bytes`);
  const view = await read(cluster, topic);
  const latest = view.latestComplete();
  assert.equal(latest?.manifest.id, 1);
  const b = await open();
  await b.adopt(latest.manifest, view.blobs(latest));
  assert.deepEqual(await blobsOf(b, 1), await blobsOf(a, 1));
});

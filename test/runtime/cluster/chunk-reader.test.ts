/**
 * A member adopting a replicated checkpoint (or exporting one) reads its blobs back from the checkpoints topic by the
 * offsets its scan found the chunks at. What it relies on: the bytes come back exact, blob by blob; a chunk that is no
 * longer where the scan saw it (the topic changed in between) is a clear, retriable error, never wrong bytes, and the
 * topic is read again before that error reaches anyone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClusterCheckpointTools } from '../../../runtime/cluster/checkpoints/checkpoint-tools.ts';
import { readChunkedBlobs, type ChunkedBlob, type ChunkSource } from '../../../runtime/cluster/checkpoints/chunk-reader.ts';
import { CHUNK_BYTES, chunkKey, partitionOf } from '../../../runtime/cluster/checkpoints/replicated-records.ts';
import { scanPartition } from '../../../runtime/cluster/kafka/partition-scan.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { JOB, logger, movingAfterScans, PARTITIONS, publisher, readView, replicationSetup, writeCheckpoint } from './support/replicated-checkpoints.ts';

test('blobs come back exact from their chunks; a chunk not where the scan saw it is SLUICE_CLUSTER_CHECKPOINT_CHANGED', async (t) => {
  const { cluster, topic, open } = await replicationSetup(t);
  const store = await open();
  const p = await publisher(cluster, topic, store, 1, await readView(cluster, topic));
  await p.claim(null);
  const manifest = await writeCheckpoint(store, 1, undefined);
  await p.publish(manifest);

  const partition = partitionOf(JOB, PARTITIONS);
  const offsets = new Map<string, number>();
  let last = 0;
  await scanPartition(cluster.kafka(), topic, partition, (r) => {
    offsets.set(r.key, r.offset);
    last = Math.max(last, r.offset);
  });
  const source: ChunkSource = { kafka: cluster.kafka(), topic, partition, job: JOB };
  const planOf = (key: string, chunks: number): ChunkedBlob => ({ name: key, chunks: Array.from({ length: chunks }, (_, i) => ({ key: chunkKey(1, key, i), offset: offsets.get(chunkKey(1, key, i))! })) });
  const refs = manifest.blobs;
  const chunkCounts = refs.map((ref) => Math.max(1, Math.ceil(ref.size / CHUNK_BYTES)));
  const plans = refs.map((ref, i) => planOf(ref.key, chunkCounts[i]!));
  assert.ok(chunkCounts.some((n) => n > 1), 'one blob spans several chunks');

  const read = new Map<string, Buffer>();
  for await (const [name, bytes] of readChunkedBlobs(source, plans)) read.set(name, bytes);
  const expected = await store.readBlobs(refs);
  refs.forEach((ref, i) => assert.ok(read.get(ref.key)?.equals(expected[i]!), `blob ${ref.key} comes back exact`));
  assert.equal(read.size, refs.length);

  // Another record at a chunk's offset (here: the next chunk's), and an offset past the end of the partition.
  const big = plans[chunkCounts.findIndex((n) => n > 1)]!;
  const swapped: ChunkedBlob = { name: big.name, chunks: [big.chunks[0]!, { key: big.chunks[1]!.key, offset: big.chunks[0]!.offset }] };
  await assert.rejects(async () => {
    for await (const _ of readChunkedBlobs(source, [swapped]));
  }, { code: 'SLUICE_CLUSTER_CHECKPOINT_CHANGED', retriable: true, message: /was replaced/ });
  const gone: ChunkedBlob = { name: big.name, chunks: [{ key: big.chunks[0]!.key, offset: last + 1000 }] };
  await assert.rejects(async () => {
    for await (const _ of readChunkedBlobs(source, [gone]));
  }, { code: 'SLUICE_CLUSTER_CHECKPOINT_CHANGED', message: /is gone/ });
});

test('an export whose checkpoint moved in the topic while it was read reads the topic again, and equals one taken before', async (t) => {
  const { cluster, topic, open } = await replicationSetup(t);
  const store = await open();
  const p = await publisher(cluster, topic, store, 1, await readView(cluster, topic));
  await p.claim(null);
  await p.publish(await writeCheckpoint(store, 1, undefined));
  const tools = new ClusterCheckpointTools({ kafka: cluster.kafka(), topic, partitions: PARTITIONS, dataDir: await tempDir(t), member: () => 'tool', logger });
  const before = await tools.exportOf(JOB, 1);

  const moving = movingAfterScans(tools, cluster, topic);
  moving.moves = 1;
  const after = await tools.exportOf(JOB, 1);
  assert.equal(moving.scans, 2, 'the first read found the chunks gone');
  assert.ok(after.bytes.equals(before.bytes), 'the same export');
  moving.moves = Infinity;
  await assert.rejects(tools.exportOf(JOB, 1), { code: 'SLUICE_CLUSTER_CHECKPOINT_CHANGED', retriable: true });
});

/**
 * A checkpoint export published for a job's owner (`sluice checkpoint restore`, `submit --from`) goes from a file to
 * the checkpoints topic chunk by chunk, and from the topic back to a file the same way, so an export of any size
 * travels in bounded memory. What a user relies on: the owner gets the very bytes that were published, a damaged
 * export publishes nothing, and a damaged import is a clear error that leaves no scratch files behind.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClusterCheckpointTools } from '../../../runtime/cluster/checkpoints/checkpoint-tools.ts';
import { CHUNK_BYTES, chunkKey, chunksOf, chunksOfFile, partitionOf } from '../../../runtime/cluster/checkpoints/replicated-records.ts';
import { jobBlobsPrefix } from '../../../runtime/checkpoint/store-layout.ts';
import { importBlobKey } from '../../../runtime/cluster/checkpoints/replicated-records.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { checkpointHeader, JOB, logger, PARTITIONS, readView, replicationSetup } from './support/replicated-checkpoints.ts';

test('a file is cut into the chunks its bytes would be, at every boundary', async (t) => {
  const dir = await tempDir(t);
  for (const size of [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 2 * CHUNK_BYTES, 2 * CHUNK_BYTES + 7]) {
    const bytes = randomBytes(size);
    const file = join(dir, `f${size}`);
    await writeFile(file, bytes);
    const fromFile: Array<{ bytes: Buffer; crc: number }> = [];
    for await (const chunk of chunksOfFile(file)) fromFile.push({ bytes: Buffer.from(chunk.bytes), crc: chunk.crc });
    assert.deepEqual(fromFile, chunksOf(bytes).map((c) => ({ bytes: Buffer.from(c.bytes), crc: c.crc })), `${size} bytes`);
  }
});

test('an export file published for the owner comes back from the topic byte for byte; damage publishes or imports nothing', async (t) => {
  const { cluster, topic, open } = await replicationSetup(t);
  const dataDir = await tempDir(t);
  const tools = new ClusterCheckpointTools({ kafka: cluster.kafka(), topic, partitions: PARTITIONS, dataDir, member: () => 'm1', logger });
  const scratch = async (): Promise<string[]> => readdir(join(dataDir, 'tmp')).catch(() => []);

  // An export of ~1.5 MiB: several chunks, the last one short.
  const source = await open();
  const blobs = [0, 1, 2].map((keyGroup) => ({ operatorUid: 'count', keyGroup, bytes: randomBytes(500 * 1024 + keyGroup) }));
  const manifest = await source.write(checkpointHeader(1, 'savepoint'), [...blobs, { operatorUid: 'source', subtask: 0, bytes: randomBytes(40) }]);
  const file = join(dataDir, 'export.bin');
  await source.exportTo(JOB, manifest.id, file);
  const exported = await readFile(file);
  assert.ok(exported.length > 2 * CHUNK_BYTES);

  const keys = await tools.publishImport(JOB, 7, { file });
  const view = await readView(cluster, topic);
  assert.deepEqual([...keys].sort(), view.importKeys(7).sort(), 'the keys written are the import\'s record and chunks');
  const read = await tools.readImport(view, 7);
  assert.ok((await readFile(read.file)).equals(exported), 'the bytes the owner reads are the export');
  const owner = await open();
  const imported = await owner.importFrom(read.file, { job: JOB, idAbove: 40, where: 'the import' });
  assert.equal(imported.id, 41);
  assert.deepEqual(imported.sourcePositions, manifest.sourcePositions);
  await read.release();
  assert.deepEqual(await scratch(), []);

  // The same export as bytes in memory publishes the same chunks.
  await tools.publishImport(JOB, 8, exported);
  const both = await readView(cluster, topic);
  const again = await tools.readImport(both, 8);
  assert.ok((await readFile(again.file)).equals(exported), 'the same export from memory');
  await again.release();

  // A damaged export file: nothing published.
  const damaged = join(dataDir, 'damaged.bin');
  await writeFile(damaged, Buffer.concat([exported.subarray(0, exported.length - 100), Buffer.alloc(100)]));
  await assert.rejects(tools.publishImport(JOB, 9, { file: damaged }), { code: 'SLUICE_CHECKPOINT_CORRUPT' });
  assert.deepEqual((await readView(cluster, topic)).importKeys(9), []);

  // A chunk of a published import damaged in the topic: a clear error, no scratch file left.
  const producer = await cluster.producer();
  const key = chunkKey(0, importBlobKey(jobBlobsPrefix(JOB), 7), 1);
  await producer.send({ topic, messages: [{ key, value: Buffer.from('damaged'), partition: partitionOf(JOB, PARTITIONS) }] });
  await assert.rejects(tools.readImport(await readView(cluster, topic), 7), { code: 'SLUICE_CLUSTER_IMPORT_MISSING', message: /chunk 1 is damaged/ });
  assert.deepEqual(await scratch(), []);
});

/**
 * A checkpoint exists once the batch with its manifest lands, and the sinks commit what it covers as soon as the
 * store says so: that batch must be synced to the disk (LevelDB's `sync`), or a power loss or an OS crash could lose
 * a checkpoint whose output was committed, and the restore of the one before would repeat that output. A kill -9
 * cannot show this (the page cache survives the process), so the tests watch the writes the store makes. Export
 * files, a user's backups, are synced before they take their name.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Level } from 'level';
import { CheckpointStore, type BlobInput, type CheckpointManifest } from '../../../runtime/checkpoint/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { SYNC_WATCH_SKIP, watchSyncs } from '../../support/watch-syncs.ts';

interface BatchCall {
  readonly keys: string[];
  readonly sync: boolean;
}

/** Records every batch of every LevelDB in this process until the test ends: array batches and chained ones. */
function watchBatches(t: TestContext): BatchCall[] {
  const calls: BatchCall[] = [];
  const proto = Level.prototype as unknown as { batch: (...args: unknown[]) => unknown };
  const original = proto.batch;
  proto.batch = function (this: unknown, ...args: unknown[]) {
    if (Array.isArray(args[0])) {
      const options = args[1] as { sync?: boolean } | undefined;
      calls.push({ keys: (args[0] as Array<{ key: string }>).map((op) => String(op.key)), sync: options?.sync === true });
      return original.apply(this, args);
    }
    const chained = original.apply(this, args) as ChainedBatch;
    const keys: string[] = [];
    const { put, del, write } = chained;
    chained.put = (key, value) => (keys.push(key), put.call(chained, key, value));
    chained.del = (key) => (keys.push(key), del.call(chained, key));
    chained.write = (options) => (calls.push({ keys, sync: options?.sync === true }), write.call(chained, options));
    return chained;
  };
  t.after(() => {
    proto.batch = original;
  });
  return calls;
}

interface ChainedBatch {
  put(key: string, value: unknown): ChainedBatch;
  del(key: string): ChainedBatch;
  write(options?: { sync?: boolean }): Promise<void>;
}

const header = (id: number): Omit<CheckpointManifest, 'blobs' | 'totalBytes' | 'formatVersion'> => ({
  job: 'orders',
  id,
  kind: 'checkpoint',
  timestamp: 1_700_000_000_000 + id,
  durationMs: 5,
  parallelism: 1,
  maxParallelism: 128,
  operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }],
  sourcePositions: {},
});
const blobs = (id: number): BlobInput[] => Array.from({ length: 3 }, (_, kg) => ({ operatorUid: 'count', keyGroup: kg, bytes: new Uint8Array(2 << 20).fill(id) }));

test('the batch that makes a checkpoint exist is synced to the disk, written or adopted; the blob batches before it are not', async (t) => {
  const from = await CheckpointStore.open(await tempDir(t));
  t.after(() => from.close());
  const to = await CheckpointStore.open(await tempDir(t));
  t.after(() => to.close());
  const calls = watchBatches(t);

  const written = await from.write(header(1), blobs(1));
  const bytes = await from.readBlobs(written.blobs);
  await to.adopt(written, new Map(written.blobs.map((ref, i) => [ref.key, bytes[i]!])));

  const manifests = calls.filter((c) => c.keys.some((k) => k.includes('manifest')));
  assert.equal(manifests.length, 2, `one manifest batch per store: ${JSON.stringify(calls.map((c) => c.keys.length))}`);
  for (const call of manifests) assert.ok(call.sync, `synced: ${call.keys.join(', ')}`);
  const blobBatches = calls.filter((c) => !manifests.includes(c));
  assert.ok(blobBatches.length >= 2, 'the blobs went in batches of their own');
  assert.ok(blobBatches.every((c) => !c.sync), 'blob batches are made durable by the synced batch after them (one log)');
});

test('an export file is synced to the disk before it takes its name: a backup must not turn out empty after a power loss', { skip: SYNC_WATCH_SKIP }, async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  await store.write(header(1), blobs(1));
  const synced = await watchSyncs(t, dir);
  const file = join(dir, 'orders-1.sluice');
  await store.exportTo('orders', 1, file);
  assert.equal(synced.length, 1, `one file synced: ${synced.join(', ')}`);
  assert.ok(synced[0]!.startsWith(`${file}.tmp-`), `the export, under its temporary name: ${synced[0]}`);
});

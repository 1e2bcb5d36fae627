import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Level } from 'level';
import { pino } from 'pino';
import {
  CheckpointStore,
  checkpointDbPath,
  type BlobInput,
  type CheckpointManifest,
  type CheckpointStoreOptions,
} from '../../../runtime/checkpoint/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-cp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(t: TestContext, dir: string, options: CheckpointStoreOptions = {}): Promise<CheckpointStore> {
  const store = await CheckpointStore.open(dir, options);
  t.after(() => store.close());
  return store;
}

/** A pino logger writing into an array, to assert warnings users will see. */
function capturingLogger(): { logger: CheckpointStoreOptions['logger'] & object; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

function header(job: string, id: number, kind: 'checkpoint' | 'savepoint' = 'checkpoint'): Omit<CheckpointManifest, 'blobs' | 'totalBytes' | 'formatVersion'> {
  return {
    job,
    id,
    kind,
    timestamp: 1_700_000_000_000 + id,
    durationMs: 12,
    parallelism: 2,
    maxParallelism: 128,
    operators: [{ uid: 'count', name: 'count per user', parallelism: 2, stateful: true }],
    sourcePositions: { 'src-1': [{ split: 'orders-0', position: id * 100 }, { split: 'orders-1', position: { offset: '7' } }] },
  };
}

function blobsFor(id: number): BlobInput[] {
  const blobs: BlobInput[] = [];
  for (const kg of [0, 5, 127]) blobs.push({ operatorUid: 'count', keyGroup: kg, bytes: new Uint8Array(64).fill(kg + id) });
  blobs.push({ operatorUid: 'count', subtask: 1, bytes: new TextEncoder().encode(`op-state-${id}`) });
  blobs.push({ operatorUid: 'sink!with%bang', subtask: 0, bytes: new Uint8Array([id]) });
  return blobs;
}

/** Raw access to the store's LevelDB, the way an operator would poke at it (store must be closed). */
async function withRawDb<T>(dir: string, fn: (db: Level<string, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new Level<string, Uint8Array>(checkpointDbPath(dir), { valueEncoding: 'view' });
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

test('a loaded checkpoint read once for a restore hands each key group its chain once; the plain view reads it again', async (t) => {
  const store = await openStore(t, await tempDir(t));
  await store.write(header('orders', 1), blobsFor(1));
  const loaded = await store.load('orders', 1);
  const once = loaded.keyedState('count', { readOnce: true });
  assert.deepEqual([...once.keys()].sort((a, b) => a - b), [0, 5, 127]);
  assert.deepEqual(Buffer.from(once.get(5)!), Buffer.alloc(64, 6));
  assert.throws(() => once.get(5), { code: 'SLUICE_INTERNAL', message: /key group 5 was read twice/ });
  assert.ok(once.has(5), 'a key group handed out is still listed');
  const again = loaded.keyedState('count');
  assert.deepEqual(Buffer.from(again.get(5)!), Buffer.alloc(64, 6));
  assert.deepEqual(Buffer.from(again.get(5)!), Buffer.alloc(64, 6), 'the plain view reads a key group as often as asked');
});

test('write → load returns the same blobs grouped by operator; ids keep increasing across restarts', async (t) => {
  const dir = await tempDir(t);
  let store = await CheckpointStore.open(dir);
  assert.equal(await store.nextId('orders'), 1);
  const m1 = await store.write(header('orders', 1), blobsFor(1));
  assert.equal(m1.formatVersion, 1);
  assert.equal(m1.blobs.length, 5);
  assert.equal(m1.totalBytes, 64 * 3 + 'op-state-1'.length + 1);
  await store.write(header('orders', 2), blobsFor(2));
  await store.close();

  store = await openStore(t, dir);
  assert.equal(await store.nextId('orders'), 3);
  const loaded = await store.load('orders', 2);
  assert.deepEqual(loaded.manifest.sourcePositions, header('orders', 2).sourcePositions);
  const keyed = loaded.keyedState('count');
  assert.deepEqual([...keyed.keys()], [0, 5, 127]);
  assert.deepEqual(Uint8Array.from(keyed.get(5)!), new Uint8Array(64).fill(7));
  assert.deepEqual(new TextDecoder().decode(loaded.operatorState('count').get(1)), 'op-state-2');
  assert.deepEqual([...loaded.operatorState('sink!with%bang')].map(([k, v]) => [k, [...v]]), [[0, [2]]]);
  assert.equal(loaded.keyedState('nope').size, 0);
  const infos = await store.list('orders');
  assert.deepEqual(infos.map((i) => [i.id, i.status]), [[2, 'valid'], [1, 'valid']]);
  await assert.rejects(store.load('orders', 9), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_NOT_FOUND'));
  await assert.rejects(store.write(header('orders', 2), []), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_EXISTS'));
  // a job whose name extends another's with '!' does not see its checkpoints
  assert.deepEqual(await store.list('orders!x'), []);
  await store.write(header('orders!x', 1), []);
  assert.deepEqual((await store.list('orders')).map((i) => i.id), [2, 1]);
  assert.equal(await store.nextId('orders'), 3);
});

test('a corrupt blob and a missing blob are skipped with a warning; none valid is an error', async (t) => {
  const dir = await tempDir(t);
  let store = await CheckpointStore.open(dir);
  assert.equal(await store.latestValid('orders'), undefined, 'no checkpoints at all');
  const written: CheckpointManifest[] = [];
  for (const id of [1, 2, 3]) written.push(await store.write(header('orders', id), blobsFor(id)));
  await store.close();

  // flip one byte of a blob of checkpoint 3, delete a blob of checkpoint 2
  await withRawDb(dir, async (db) => {
    const key3 = written[2]!.blobs[1]!.key;
    const bytes = Uint8Array.from((await db.get(key3))!);
    bytes[10] = bytes[10]! ^ 0xff;
    await db.put(key3, bytes);
    await db.del(written[1]!.blobs[3]!.key);
  });

  const { logger, lines } = capturingLogger();
  store = await openStore(t, dir, { logger });
  assert.deepEqual((await store.list('orders')).map((i) => [i.id, i.status]), [[3, 'corrupt'], [2, 'incomplete'], [1, 'valid']]);
  const latest = await store.latestValid('orders');
  assert.equal(latest?.manifest.id, 1);
  assert.deepEqual(Uint8Array.from(latest.keyedState('count').get(0)!), new Uint8Array(64).fill(1));
  assert.deepEqual(lines.map((l) => [l['checkpoint'], l['usedInstead'], l['job']]), [[3, 1, 'orders'], [2, 1, 'orders']]);
  assert.match(String(lines[0]!['msg']), /checkpoint 3 of job "orders" .*restoring from checkpoint 1/);
  assert.match(String(lines[0]!['reason']), /failed its checksum/);
  assert.match(String(lines[1]!['reason']), /is missing/);
  await assert.rejects(store.load('orders', 3), (e: unknown) =>
    isSluiceError(e, 'SLUICE_CHECKPOINT_CORRUPT') && e.message.includes(written[2]!.blobs[1]!.key) && e.message.includes('checkpoint 3 of job "orders"'));

  await store.delete('orders', 1);
  await assert.rejects(store.latestValid('orders'), (e: unknown) =>
    isSluiceError(e, 'SLUICE_CHECKPOINT_NONE_VALID') && /3, 2/.test(e.message));
});

test('a corrupt manifest is detected by its checksum', async (t) => {
  const dir = await tempDir(t);
  let store = await CheckpointStore.open(dir);
  await store.write(header('orders', 1), blobsFor(1));
  await store.write(header('orders', 2), blobsFor(2));
  await store.close();
  await withRawDb(dir, async (db) => {
    for await (const [key, value] of db.iterator({ gte: 'checkpoint!manifest!orders!', lt: 'checkpoint!manifest!orders"' })) {
      if (!key.endsWith('2')) continue;
      const bytes = Uint8Array.from(value);
      bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0x01;
      await db.put(key, bytes);
    }
  });
  store = await openStore(t, dir);
  assert.deepEqual((await store.list('orders')).map((i) => [i.id, i.status]), [[2, 'corrupt'], [1, 'valid']]);
  assert.equal((await store.latestValid('orders'))?.manifest.id, 1);
});

test('a failed batch leaves no visible checkpoint, no blobs, and the store usable', async (t) => {
  const dir = await tempDir(t);
  let fail: 'throw' | 'bad-op' | undefined = 'throw';
  let store = await CheckpointStore.open(dir, {
    beforeBatch: (ops) => {
      if (fail === 'throw') throw new Error('disk full (injected)');
      if (fail === 'bad-op') ops.push({ type: 'put', key: 'checkpoint!zzz', value: undefined as unknown as Uint8Array });
    },
  });
  await assert.rejects(store.write(header('orders', 1), blobsFor(1)), (e: unknown) =>
    isSluiceError(e, 'SLUICE_CHECKPOINT_WRITE_FAILED') && e.retriable && /disk full/.test(e.message));
  fail = 'bad-op'; // the real LevelDB batch rejects, after the blobs were already queued in it
  await assert.rejects(store.write(header('orders', 1), blobsFor(1)), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_WRITE_FAILED'));
  assert.deepEqual(await store.list('orders'), []);
  assert.equal(await store.latestValid('orders'), undefined);
  await store.close();
  assert.deepEqual(await withRawDb(dir, (db) => db.keys().all()), [], 'nothing at all was written');

  fail = undefined;
  store = await openStore(t, dir, { beforeBatch: () => undefined });
  await store.write(header('orders', 1), blobsFor(1));
  assert.equal((await store.latestValid('orders'))?.manifest.id, 1);
});

test('retention keeps the newest checkpoints and every savepoint, and deletes their blobs', async (t) => {
  const dir = await tempDir(t);
  let store = await CheckpointStore.open(dir);
  for (let id = 1; id <= 7; id++) {
    await store.write(header('orders', id, id === 2 || id === 5 ? 'savepoint' : 'checkpoint'), blobsFor(id), { retain: 2 });
  }
  await store.write(header('other', 1), blobsFor(1), { retain: 1 });
  assert.deepEqual((await store.list('orders')).map((i) => [i.id, i.kind]), [[7, 'checkpoint'], [6, 'checkpoint'], [5, 'savepoint'], [2, 'savepoint']]);
  await assert.rejects(store.write(header('orders', 8), [], { retain: 0 }), /keep at least 1/);
  // retain() applies retention on its own (a finished job keeps only its final checkpoint).
  await store.retain('orders', 1);
  assert.deepEqual((await store.list('orders')).map((i) => [i.id, i.kind]), [[7, 'checkpoint'], [5, 'savepoint'], [2, 'savepoint']]);
  await store.close();
  const blobIds = await withRawDb(dir, async (db) => {
    const keys = await db.keys({ gte: 'checkpoint!blob!orders!', lt: 'checkpoint!blob!orders"' }).all();
    return [...new Set(keys.map((k) => Number(k.split('!')[3])))];
  });
  assert.deepEqual(blobIds, [2, 5, 7]);
  store = await openStore(t, dir);
  await store.deleteAll('orders');
  assert.deepEqual(await store.list('orders'), []);
  assert.equal(await store.nextId('orders'), 8, 'ids never repeat, even after deleteAll');
  assert.equal((await store.list('other')).length, 1);
});

test('export → import round trip, into another store and job, as a savepoint; a damaged file is refused', async (t) => {
  const dirA = await tempDir(t);
  const dirB = await tempDir(t);
  const a = await openStore(t, dirA);
  const original = await a.write(header('orders', 1), blobsFor(1));
  const file = join(dirA, 'orders-1.sluice');
  await a.exportTo('orders', 1, file);

  const b = await openStore(t, dirB);
  await b.write(header('orders-copy', 1), []);
  const imported = await b.importFrom(file, { job: 'orders-copy' });
  assert.equal(imported.kind, 'savepoint');
  assert.equal(imported.job, 'orders-copy');
  assert.equal(imported.id, 2);
  assert.deepEqual(imported.sourcePositions, original.sourcePositions);
  const loaded = await b.load('orders-copy', 2);
  const before = await a.load('orders', 1);
  assert.deepEqual(loaded.keyedState('count'), before.keyedState('count'));
  assert.deepEqual(loaded.operatorState('sink!with%bang'), before.operatorState('sink!with%bang'));
  assert.equal((await b.importFrom(file)).job, 'orders', 'job name defaults to the exported one');

  const bytes = await readFile(file);
  const needle = Buffer.from(new Uint8Array(64).fill(6)); // keyed blob of key group 5
  const at = bytes.indexOf(needle);
  assert.ok(at > 0);
  bytes[at + 3] = 0;
  const damaged = join(dirA, 'damaged.sluice');
  await writeFile(damaged, bytes);
  await assert.rejects(b.importFrom(damaged), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_CORRUPT') && /checksum/.test(e.message));
  await writeFile(damaged, 'not msgpack at all');
  await assert.rejects(b.importFrom(damaged), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_CORRUPT'));
  assert.equal((await b.list('orders')).length, 1, 'failed imports stored nothing');
});

test('a second open of the same data directory is a clear LOCKED error', async (t) => {
  const dir = await tempDir(t);
  await openStore(t, dir);
  await assert.rejects(CheckpointStore.open(dir), (e: unknown) =>
    isSluiceError(e, 'SLUICE_CHECKPOINT_STORE_LOCKED') && e.message.includes(checkpointDbPath(dir)));
  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  await assert.rejects(CheckpointStore.open(file), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_STORE_UNREADABLE'));
});

test('blobs a crash left without their manifest are never a checkpoint, and the next write of that id clears them', async (t) => {
  const dir = await tempDir(t);
  let store = await CheckpointStore.open(dir);
  await store.write(header('orders', 1), blobsFor(1));
  await store.close();
  // What a crash between a checkpoint's blob batches and its manifest batch leaves: blobs under id 2, no manifest.
  await withRawDb(dir, async (db) => {
    await db.put('checkpoint!blob!orders!000000000002!count!kg!00003', new Uint8Array([9, 9, 9]));
    await db.put('checkpoint!blob!orders!000000000002!gone!op!00000', new Uint8Array([1]));
  });
  store = await openStore(t, dir);
  assert.deepEqual((await store.list('orders')).map((i) => i.id), [1]);
  assert.equal((await store.latestValid('orders'))?.manifest.id, 1);
  assert.equal(await store.nextId('orders'), 2, 'the id is taken again');
  const written = await store.write(header('orders', 2), blobsFor(2));
  await store.close();
  const keys = await withRawDb(dir, (db) => db.keys({ gte: 'checkpoint!blob!orders!000000000002!', lt: 'checkpoint!blob!orders!000000000002"' }).all());
  assert.deepEqual(keys.sort(), written.blobs.map((b) => b.key).sort(), 'exactly the new checkpoint\'s blobs');
  store = await openStore(t, dir);
  assert.equal((await store.load('orders', 2)).manifest.id, 2);
});

test('a checkpoint larger than one blob batch is written and verified whole', async (t) => {
  const dir = await tempDir(t);
  const store = await openStore(t, dir);
  // 12 blobs of 1 MiB: three batches of blobs, then the manifest.
  const blobs: BlobInput[] = Array.from({ length: 12 }, (_, kg) => ({ operatorUid: 'count', keyGroup: kg, bytes: new Uint8Array(1024 * 1024).fill(kg) }));
  await store.write(header('big', 1), blobs);
  const loaded = await store.load('big', 1);
  const keyed = loaded.keyedState('count');
  assert.equal(keyed.size, 12);
  for (const [kg, bytes] of keyed) assert.ok(bytes.byteLength === 1024 * 1024 && bytes.every((b) => b === kg), `key group ${kg}`);
});

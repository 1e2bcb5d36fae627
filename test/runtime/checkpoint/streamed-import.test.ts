/**
 * Imports read an export file blob by blob as they store it (an export of any size is imported holding one batch of
 * blobs): what a user relies on is that every export imports whole, and that a damaged one imports nothing — also
 * when the damage is met after earlier batches were written, and for exports that older versions wrote.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Level } from 'level';
import { Packr } from '../../../runtime/serde/msgpackr.ts';
import { CheckpointStore, checkpointDbPath, type BlobInput, type CheckpointManifest } from '../../../runtime/checkpoint/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const MiB = 1024 * 1024;

function header(job: string, id: number): Omit<CheckpointManifest, 'blobs' | 'totalBytes' | 'formatVersion'> {
  return {
    job,
    id,
    kind: 'checkpoint',
    timestamp: 1_700_000_000_000 + id,
    durationMs: 12,
    parallelism: 2,
    maxParallelism: 128,
    operators: [{ uid: 'count', name: 'count per user', parallelism: 2, stateful: true }],
    sourcePositions: { 'src-1': [{ split: 'orders-0', position: id * 100 }] },
  };
}

/** 12 keyed blobs of 1 MiB (three batches of blobs when imported) and one operator-state blob. */
function bigBlobs(): BlobInput[] {
  const blobs: BlobInput[] = Array.from({ length: 12 }, (_, kg) => ({ operatorUid: 'count', keyGroup: kg, bytes: new Uint8Array(MiB).fill(kg + 1) }));
  blobs.push({ operatorUid: 'sink', subtask: 0, bytes: new TextEncoder().encode('positions') });
  return blobs;
}

async function exportedStore(t: TestContext): Promise<{ dir: string; file: string }> {
  const dir = await tempDir(t, 'sluice-import-');
  const store = await CheckpointStore.open(join(dir, 'a'));
  try {
    await store.write(header('orders', 1), bigBlobs());
    const file = join(dir, 'orders-1.sluice-export');
    await store.exportTo('orders', 1, file);
    return { dir, file };
  } finally {
    await store.close();
  }
}

async function assertImportedWhole(store: CheckpointStore, job: string, id: number): Promise<void> {
  const loaded = await store.load(job, id);
  const keyed = loaded.keyedState('count');
  assert.equal(keyed.size, 12);
  for (const [kg, bytes] of keyed) assert.ok(bytes.byteLength === MiB && bytes.every((b) => b === kg + 1), `key group ${kg}`);
  assert.deepEqual(new TextDecoder().decode(loaded.operatorState('sink').get(0)), 'positions');
}

test('a damaged blob met after earlier batches were stored imports nothing, leaves no blobs, and the store imports the good file next', async (t) => {
  const { dir, file } = await exportedStore(t);
  const bytes = await readFile(file);
  const blob10 = bytes.indexOf(Buffer.alloc(64, 11)); // key group 10's bytes: two batches of 4 MiB come before it
  assert.ok(blob10 > 8 * MiB);
  bytes[blob10 + 100] = 0;
  const damaged = join(dir, 'damaged.sluice-export');
  await writeFile(damaged, bytes);

  const storeDir = join(dir, 'b');
  let store = await CheckpointStore.open(storeDir);
  await assert.rejects(store.importFrom(damaged, { job: 'copy' }), (e: unknown) =>
    isSluiceError(e, 'SLUICE_CHECKPOINT_CORRUPT') && /blob .*kg!00010.* checksum/.test(e.message) && /nothing was imported/.test(e.message));
  assert.deepEqual(await store.list('copy'), []);
  await store.close();
  const left = new Level<string, Uint8Array>(checkpointDbPath(storeDir), { valueEncoding: 'view' });
  await left.open();
  const keys = await left.keys().all();
  await left.close();
  assert.deepEqual(keys.filter((k) => k.includes('!blob')), [], 'the blobs stored before the damaged one were cleared');

  store = await CheckpointStore.open(storeDir);
  t.after(() => store.close());
  const imported = await store.importFrom(file, { job: 'copy' });
  assert.equal(imported.kind, 'savepoint');
  await assertImportedWhole(store, 'copy', imported.id);
});

test('exports in the layout older versions wrote (manifest first, blobs as msgpack typed arrays) import the same', async (t) => {
  const { dir, file } = await exportedStore(t);
  const packr = new Packr({ useRecords: false, moreTypes: true });
  const current = packr.unpack(await readFile(file)) as { format: string; version: number; manifest: CheckpointManifest; blobs: Uint8Array[] };
  // Uint8Array (not Buffer) blobs, as LevelDB's 'view' encoding gave them: msgpackr packs them as an extension type.
  const older = packr.pack({ format: current.format, version: current.version, manifest: current.manifest, blobs: current.blobs.map((b) => new Uint8Array(b)) });
  assert.equal(older.indexOf(Buffer.from([0xc6, 0x00, 0x10, 0x00, 0x00])), -1, 'no blob is a msgpack bin 32 in the older layout');
  const olderFile = join(dir, 'older.sluice-export');
  await writeFile(olderFile, older);

  const store = await CheckpointStore.open(join(dir, 'b'));
  t.after(() => store.close());
  const imported = await store.importFrom(olderFile, { job: 'copy' });
  await assertImportedWhole(store, 'copy', imported.id);
});

test('a truncated export, trailing bytes or a blob list that does not match the manifest: corrupt, nothing imported', async (t) => {
  const { dir, file } = await exportedStore(t);
  const bytes = await readFile(file);
  const store = await CheckpointStore.open(join(dir, 'b'));
  t.after(() => store.close());
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['truncated', bytes.subarray(0, bytes.length - 1000), /ends early/],
    ['trailing', Buffer.concat([bytes, Buffer.from([0x01])]), /bytes after its map/],
    ['empty', new Uint8Array(0), /ends early/],
  ];
  const packr = new Packr({ useRecords: false, moreTypes: true });
  const doc = packr.unpack(bytes) as { blobs: Uint8Array[] };
  cases.push(['one blob short', packr.pack({ ...doc, blobs: doc.blobs.slice(1).map((b) => Buffer.from(b)) }), /blob list does not match its manifest/]);
  for (const [name, content, message] of cases) {
    const path = join(dir, `${name}.sluice-export`);
    await writeFile(path, content);
    await assert.rejects(store.importFrom(path, { job: 'copy' }), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_CORRUPT') && message.test(e.message), name);
  }
  await assert.rejects(store.importFrom(join(dir, 'missing.sluice-export')), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_NOT_FOUND') && /cannot read checkpoint export/.test(e.message));
  assert.deepEqual(await store.list('copy'), []);
});

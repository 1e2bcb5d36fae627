/**
 * A savepoint of an incremental job stands alone: the store merges every chain it builds on into a full blob. It does
 * so one chain at a time, storing merged blobs batch by batch as they are made, so a savepoint of large state holds
 * one chain and one batch rather than the whole state twice over (bench/checkpoint-export.ts measures it). What a user
 * relies on: the savepoint restores exactly, and one that cannot be made leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Level } from 'level';
import { CheckpointStore, checkpointDbPath, type BlobInput, type BlobRef, type CheckpointManifest, type ManifestHeader } from '../../../runtime/checkpoint/index.ts';
import { gatherCheckpoint } from '../../../runtime/checkpoint/checkpoint-blobs.ts';
import { openStoreDb, type Db } from '../../../runtime/checkpoint/store-db.ts';
import { writeMergedCheckpoint } from '../../../runtime/checkpoint/write-checkpoint.ts';
import { isSluiceError, SluiceError } from '../../../runtime/errors/index.ts';
import type { SubtaskAck } from '../../../runtime/exec/index.ts';
import { HeapKeyedStateBackend } from '../../../runtime/state/index.ts';
import { restoredValueState } from '../../support/keyed-state-fixtures.ts';
import { tempDir } from '../../support/temp-dir.ts';

const M = 8;
const JOB = 'sp';
const MiB = 1024 * 1024;

function header(id: number, kind: 'checkpoint' | 'savepoint' = 'checkpoint'): ManifestHeader {
  return { job: JOB, id, kind, timestamp: id, durationMs: 1, parallelism: 1, maxParallelism: M, operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }], sourcePositions: {} };
}

/** Three incremental checkpoints of a heap backend (a full one, then two deltas), and a savepoint snapshot on top. */
async function incrementalJob(store: CheckpointStore): Promise<{ savepoint: () => Promise<CheckpointManifest>; expected: Map<string, number> }> {
  const backend = new HeapKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 }, incremental: true });
  await backend.restore([]);
  const count = backend.getValueState<number>('count');
  const expected = new Map<string, number>();
  let parent: CheckpointManifest | undefined;
  const take = async (id: number, kind: 'checkpoint' | 'savepoint'): Promise<CheckpointManifest> => {
    const snapshot = await backend.snapshot(id);
    const ack: SubtaskAck = { checkpointId: id, stage: 0, subtask: 0, operators: [{ uid: 'count', snapshot: { keyed: snapshot.keyGroups, incremental: snapshot.incremental! } }] };
    parent = await store.write(header(id, kind), gatherCheckpoint([ack], parent).blobs, { retain: 3 });
    return parent;
  };
  for (let id = 1; id <= 3; id++) {
    for (let k = id === 1 ? 0 : id * 100; k < (id === 1 ? 3000 : id * 100 + 50); k++) {
      backend.setCurrentKey(`user-${k}`);
      count.update(id * 10_000 + k);
      expected.set(`user-${k}`, id * 10_000 + k);
    }
    await take(id, 'checkpoint');
  }
  backend.setCurrentKey('user-7');
  count.update(-7);
  expected.set('user-7', -7);
  return { savepoint: () => take(4, 'savepoint'), expected };
}

async function restored(store: CheckpointStore, id: number): Promise<Map<string, unknown>> {
  return restoredValueState((await store.load(JOB, id)).keyedState('count'), M, 'count');
}

async function openStore(t: TestContext, dir: string): Promise<CheckpointStore> {
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  return store;
}

test('a savepoint on incremental chains reads them one chain at a time, each blob once, and restores the same state', async (t) => {
  const store = await openStore(t, await tempDir(t));
  const { savepoint, expected } = await incrementalJob(store);
  const reads: BlobRef[] = [];
  const callsSpanningChains: number[][] = [];
  const readBlobs = store.readBlobs.bind(store);
  store.readBlobs = (refs) => {
    reads.push(...refs);
    const groups = new Set(refs.map((ref) => ref.keyGroup!));
    if (groups.size > 1) callsSpanningChains.push([...groups]);
    return readBlobs(refs);
  };
  const manifest = await savepoint();
  assert.equal(manifest.formatVersion, 1, 'it stands alone');
  assert.ok(manifest.blobs.every((b) => b.delta === undefined && b.key.includes('!000000000004!')), 'only its own full blobs');
  const groups = reads.map((ref) => ref.keyGroup!);
  const finished = new Set<number>();
  groups.forEach((group, i) => {
    if (i > 0 && groups[i - 1] !== group) finished.add(groups[i - 1]!);
    assert.ok(!finished.has(group), `chains are read one after another, each whole: ${groups.join(',')}`);
  });
  assert.equal(new Set(groups).size, M, 'every key group had a chain');
  assert.deepEqual(callsSpanningChains, [], 'each read asks for blobs of one chain: the next chain is read when its turn comes');
  assert.equal(new Set(reads.map((ref) => ref.key)).size, reads.length, 'no blob is read twice');
  assert.ok(reads.some((ref) => ref.delta === true), 'the chains it merged had deltas');
  assert.deepEqual(await restored(store, 4), expected);
});

test('a savepoint that builds on a damaged blob fails as corrupt and stores nothing; the job’s checkpoints stay', async (t) => {
  const dir = await tempDir(t);
  const first = await CheckpointStore.open(dir);
  await incrementalJob(first);
  const parent = (await first.load(JOB, 3)).manifest;
  await first.close();
  const delta = parent.blobs.find((b) => b.delta === true && b.keyGroup! > 0)!;
  const db = new Level<string, Uint8Array>(checkpointDbPath(dir), { valueEncoding: 'view' });
  const bytes = (await db.get(delta.key))!;
  bytes[bytes.length - 1] ^= 0xff;
  await db.put(delta.key, bytes);
  await db.close();

  const store = await CheckpointStore.open(dir);
  // Savepoint 4 on checkpoint 3 with nothing changed: it names every blob of 3's chains, the damaged one too.
  await assert.rejects(store.write(header(4, 'savepoint'), parent.blobs.map((ref) => ({ shared: ref }))), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_CHECKPOINT_CORRUPT'), String(err));
    assert.match(err.message, /builds on a damaged blob .*take it again once the job restarted from an earlier checkpoint/);
    return true;
  });
  assert.deepEqual((await store.ids(JOB)).sort(), [1, 2, 3], 'no savepoint 4');
  await store.close();
  const raw = new Level<string, Uint8Array>(checkpointDbPath(dir), { valueEncoding: 'view' });
  const leftovers = (await raw.keys().all()).filter((key) => key.includes('!000000000004!'));
  await raw.close();
  assert.deepEqual(leftovers, [], 'no blob of the failed savepoint is left');
});

/** `db` with its batches counted (each a list of the keys it put). */
function countingBatches(db: Db): { db: Db; batches: string[][] } {
  const batches: string[][] = [];
  const proxy = new Proxy(db, {
    get(target, name) {
      const value = Reflect.get(target, name, target) as unknown;
      if (name === 'batch') {
        return (ops?: Array<{ key: string }>) => {
          if (ops !== undefined) return (batches.push(ops.map((op) => op.key)), target.batch(ops as never));
          // A chained batch (the synced last one): its keys count as a batch once it is written.
          const chained = target.batch();
          const keys: string[] = [];
          const recorder = {
            put: (key: string, bytes: Uint8Array) => (keys.push(key), chained.put(key, bytes), recorder),
            del: (key: string) => (keys.push(key), chained.del(key), recorder),
            write: (options: { sync?: boolean } = {}) => (batches.push(keys), chained.write(options)),
          };
          return recorder;
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { db: proxy, batches };
}

test('merged blobs are stored batch by batch as they are made: a blob is made after the ones before it are stored', async (t) => {
  const dir = await tempDir(t);
  const raw = await openStoreDb(checkpointDbPath(dir));
  const { db, batches } = countingBatches(raw);
  const storedWhenMade: number[] = [];
  async function* merged(): AsyncGenerator<BlobInput> {
    for (let kg = 0; kg < 6; kg++) {
      storedWhenMade.push(batches.length);
      yield { operatorUid: 'count', keyGroup: kg, bytes: new Uint8Array(1.5 * MiB).fill(kg + 1) };
    }
  }
  const manifest = await writeMergedCheckpoint(db, header(9, 'savepoint'), merged(), undefined);
  await raw.close();
  assert.ok(storedWhenMade[5]! >= 2, `the last blob was made once earlier ones were stored (batches stored before each: ${storedWhenMade.join(',')})`);
  assert.equal(manifest.formatVersion, 1);
  assert.deepEqual(manifest.blobs.map((b) => [b.keyGroup, b.size]), [0, 1, 2, 3, 4, 5].map((kg) => [kg, 1.5 * MiB]));
  assert.ok(batches.slice(0, -1).every((keys) => keys.every((key) => key.includes('!000000000009!'))), 'blobs first');
  assert.equal(batches.at(-1)!.length, 2, 'then the manifest and the id mark, in a batch of their own');

  const store = await openStore(t, dir);
  const keyed = (await store.load(JOB, 9)).keyedState('count');
  assert.deepEqual([...keyed].map(([kg, bytes]) => [kg, bytes.length, bytes[0]]), [0, 1, 2, 3, 4, 5].map((kg) => [kg, 1.5 * MiB, kg + 1]));
});

test('a blob that cannot be made midway fails the write with its own error, stores nothing, and the id can be written again', async (t) => {
  const dir = await tempDir(t);
  const db = await openStoreDb(checkpointDbPath(dir));
  async function* failing(): AsyncGenerator<BlobInput> {
    for (let kg = 0; kg < 6; kg++) {
      if (kg === 4) throw new SluiceError('SLUICE_CHECKPOINT_CORRUPT', 'chain 4 is damaged (injected)');
      yield { operatorUid: 'count', keyGroup: kg, bytes: new Uint8Array(1.5 * MiB).fill(kg + 1) };
    }
  }
  await assert.rejects(writeMergedCheckpoint(db, header(9, 'savepoint'), failing(), undefined), (err: unknown) => isSluiceError(err, 'SLUICE_CHECKPOINT_CORRUPT') && /injected/.test(err.message));
  assert.deepEqual(await db.keys().all(), [], 'the blobs stored before the failure are cleared');
  async function* good(): AsyncGenerator<BlobInput> {
    yield { operatorUid: 'count', keyGroup: 0, bytes: new Uint8Array([1, 2, 3]) };
  }
  const manifest = await writeMergedCheckpoint(db, header(9, 'savepoint'), good(), undefined);
  assert.equal(manifest.blobs.length, 1);
  await db.close();
  const store = await openStore(t, dir);
  assert.deepEqual([...(await store.load(JOB, 9)).keyedState('count').get(0)!], [1, 2, 3]);
});

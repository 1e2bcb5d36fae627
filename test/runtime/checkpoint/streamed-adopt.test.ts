/**
 * A checkpoint adopted from another store (cluster mode: read back from Kafka) may come as a stream of blobs, stored
 * as they come so that a checkpoint of any size is adopted holding about one batch. What a user relies on: the
 * adopted checkpoint restores whole; a stream that fails, brings a damaged blob or misses one adopts nothing (no
 * checkpoint appears); a checkpoint already here is not read again.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { CheckpointStore, type BlobInput, type CheckpointManifest, type ManifestHeader } from '../../../runtime/checkpoint/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const MiB = 1024 * 1024;
const JOB = 'orders';

const header: ManifestHeader = {
  job: JOB,
  id: 7,
  kind: 'checkpoint',
  timestamp: 1_700_000_000_007,
  durationMs: 12,
  parallelism: 1,
  maxParallelism: 128,
  operators: [{ uid: 'count', name: 'count per user', parallelism: 1, stateful: true }],
  sourcePositions: { 'src-1': [{ split: 'orders-0', position: 700 }] },
};

async function openStore(t: TestContext): Promise<CheckpointStore> {
  const store = await CheckpointStore.open(await tempDir(t, 'sluice-adopt-'));
  t.after(() => store.close());
  return store;
}

/** A source store with checkpoint 7: five keyed blobs of 3 MiB (a batch each when adopted) and one of operator state. */
async function source(t: TestContext): Promise<{ store: CheckpointStore; manifest: CheckpointManifest; bytes: Map<string, Uint8Array> }> {
  const store = await openStore(t);
  const blobs: BlobInput[] = Array.from({ length: 5 }, (_, kg) => ({ operatorUid: 'count', keyGroup: kg, bytes: new Uint8Array(3 * MiB).fill(kg + 1) }));
  blobs.push({ operatorUid: 'sink', subtask: 0, bytes: new TextEncoder().encode('positions') });
  const manifest = await store.write(header, blobs);
  const read = await store.readBlobs(manifest.blobs);
  return { store, manifest, bytes: new Map(manifest.blobs.map((ref, i) => [ref.key, read[i]!])) };
}

async function* streamOf(entries: Iterable<readonly [string, Uint8Array]>, before?: (n: number) => Promise<void>): AsyncGenerator<readonly [string, Uint8Array]> {
  let n = 0;
  for (const entry of entries) {
    await before?.(n++);
    yield entry;
  }
}

test('a streamed checkpoint is stored blob by blob as it comes, and restores whole', async (t) => {
  const { store: from, manifest, bytes } = await source(t);
  const to = await openStore(t);
  const order = [...bytes].reverse(); // any order
  const storedBefore: number[] = [];
  await to.adopt(
    manifest,
    streamOf(order, async (n) => {
      // Before blob n is handed over: which of the blobs handed over before it are in the store already.
      const present = await Promise.all(order.slice(0, n).map(([key]) => to.readBlobs(manifest.blobs.filter((ref) => ref.key === key)).then(() => 1, () => 0)));
      storedBefore.push(present.reduce<number>((a, b) => a + b, 0));
      assert.equal(await to.latestValid(JOB), undefined, 'no checkpoint before its last blob is stored');
    }),
  );
  // Batches hold at most 4 MiB: each 3 MiB blob is written once the next one comes, not all at the end.
  assert.ok(storedBefore[4]! >= 3, `blobs stored before the fifth was handed over: ${storedBefore.join(', ')}`);
  const adopted = await to.load(JOB, 7);
  const original = await from.load(JOB, 7);
  assert.deepEqual(adopted.manifest, original.manifest);
  assert.deepEqual([...adopted.keyedState('count').values()], [...original.keyedState('count').values()]);
  assert.equal(await to.nextId(JOB), 8);
});

test('a stream that fails, brings a damaged blob or misses one adopts nothing', async (t) => {
  const { manifest, bytes } = await source(t);
  const entries = [...bytes];
  const cases: Array<{ name: string; stream: () => AsyncIterable<readonly [string, Uint8Array]>; expected: RegExp | { code: string } }> = [
    {
      name: 'fails part way',
      stream: () =>
        streamOf(entries, async (n) => {
          if (n === 3) throw new Error('broker went away');
        }),
      expected: /broker went away/,
    },
    { name: 'a damaged blob', stream: () => streamOf(entries.map(([key, b], i) => [key, i === 4 ? new Uint8Array(b.length) : b] as const)), expected: { code: 'SLUICE_CHECKPOINT_CORRUPT' } },
    { name: 'a blob missing', stream: () => streamOf(entries.slice(1)), expected: { code: 'SLUICE_CHECKPOINT_CORRUPT' } },
    { name: 'a blob twice', stream: () => streamOf([...entries, entries[0]!]), expected: { code: 'SLUICE_CHECKPOINT_CORRUPT' } },
    { name: 'a blob it does not name', stream: () => streamOf([...entries, ['orders!other', new Uint8Array(1)] as const]), expected: { code: 'SLUICE_CHECKPOINT_CORRUPT' } },
  ];
  for (const c of cases) {
    const to = await openStore(t);
    await assert.rejects(to.adopt(manifest, c.stream()), c.expected, c.name);
    assert.equal(await to.latestValid(JOB), undefined, `${c.name}: no checkpoint`);
    assert.deepEqual(await to.ids(JOB), [], c.name);
    // The same store adopts it whole afterwards (what a member's retry does, after deleting the job's checkpoints).
    await to.deleteAll(JOB);
    await to.adopt(manifest, streamOf(entries));
    assert.equal((await to.latestValid(JOB))?.manifest.id, 7, c.name);
  }
});

test('a checkpoint already here with the same manifest is not read again', async (t) => {
  const { manifest, bytes } = await source(t);
  const to = await openStore(t);
  await to.adopt(manifest, bytes);
  let asked = false;
  await to.adopt(
    manifest,
    streamOf(bytes, async () => {
      asked = true;
    }),
  );
  assert.equal(asked, false);
});

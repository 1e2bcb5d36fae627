import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { HeapKeyedStateBackend, keyGroupRangeOf, type KeyedStateBackend, type StateKey } from '../../../runtime/state/index.ts';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';
import { seededRandom } from '../../../runtime/testing/seeded-random.ts';
import { canonical, Chains, randomOps } from '../../support/keyed-state-fixtures.ts';
import { collectedAfterGc } from '../../support/collected.ts';

const M = 32;
const range = { start: 0, end: M - 1 };

async function leveldb(options: { incremental?: boolean; cacheBytes?: number; range?: { start: number; end: number } } = {}): Promise<LevelDbKeyedStateBackend> {
  const backend = new LevelDbKeyedStateBackend({ maxParallelism: M, range: options.range ?? range, ...options });
  return backend;
}

/** What a job sees: every state's value for each key, read through the handles. */
function reads(backend: KeyedStateBackend, keys: number): string {
  const out: string[] = [];
  for (let k = 0; k < keys; k++) {
    for (const key of [k, `k${k}`] as StateKey[]) {
      backend.setCurrentKey(key);
      const map = backend.getMapState<string, number>('m');
      const entries = [...map.keys()].sort().map((p) => [p, map.get(p)]);
      out.push(JSON.stringify([key, backend.getValueState('v').value() ?? null, entries, backend.getListState('l').get()]));
    }
  }
  return out.join('\n');
}

// A cache of a few KiB: most entries are evicted and read back from LevelDB between operations. One of 64 KiB: changed
// entries stay cached, logged for deltas but unwritten, over a few checkpoints before they are evicted. One that
// holds everything: the working database stays behind the cache, and full blobs of rebased chains must still see it all.
for (const cacheBytes of [8 * 1024, 64 * 1024, 64 * 1024 * 1024]) {
  test(`the LevelDB backend agrees with the heap backend: reads, full snapshots, and incremental chains restored at p = 1, 3 and 8 (cache ${cacheBytes} bytes)`, async () => {
    const rnd = seededRandom(23);
    const heap = new HeapKeyedStateBackend({ maxParallelism: M, range });
    const inc = await leveldb({ incremental: true, cacheBytes });
    const full = await leveldb({ cacheBytes: 64 * 1024 });
    await inc.restore([]);
    await full.restore([]);
    const chains = new Chains();
    let deltas = 0;
    try {
      for (let round = 1; round <= 16; round++) {
        randomOps([heap, inc, full], rnd, round % 5 === 0 ? 20 : 600, 300);
        if (round % 4 === 0) {
          assert.deepEqual(inc.pollDueTimers(1000 + round), heap.pollDueTimers(1000 + round));
          assert.deepEqual(full.pollDueEventTimeTimers(2000 + round), heap.pollDueEventTimeTimers(2000 + round));
          full.pollDueTimers(1000 + round);
          inc.pollDueEventTimeTimers(2000 + round);
        }
        const expected = canonical((await heap.snapshot()).keyGroups);
        assert.equal(canonical((await full.snapshot()).keyGroups), expected, `round ${round}: full snapshot`);
        const snapshot = await inc.snapshot(round);
        deltas += snapshot.incremental!.deltas.size;
        chains.apply(round, snapshot, range);
        if (round % 4 !== 0 && round !== 1) continue;
        assert.equal(reads(inc, 300), reads(heap, 300), `round ${round}: reads`);
        for (const parallelism of [1, 3, 8]) {
          const restored = new Map<number, Uint8Array>();
          for (let s = 0; s < parallelism; s++) {
            const part = new HeapKeyedStateBackend({ maxParallelism: M, range: keyGroupRangeOf(s, parallelism, M) });
            await part.restore(chains.concatenated(), round);
            for (const [g, blob] of (await part.snapshot()).keyGroups) restored.set(g, blob);
          }
          assert.equal(canonical(restored), expected, `round ${round}: chain restored into the heap backend at p = ${parallelism}`);
        }
        const back = new Map<number, Uint8Array>();
        for (let s = 0; s < 3; s++) {
          const part = await leveldb({ range: keyGroupRangeOf(s, 3, M), cacheBytes: 4096 });
          try {
            await part.restore(chains.concatenated(), round);
            for (const [g, blob] of (await part.snapshot()).keyGroups) back.set(g, blob);
          } finally {
            await part.close();
          }
        }
        assert.equal(canonical(back), expected, `round ${round}: chain restored into the LevelDB backend at p = 3`);
        // The heap backend's own snapshot (keys in no order: the restore sorts each key group) into the LevelDB backend.
        const switched = await leveldb({ range, cacheBytes: 4096 });
        try {
          await switched.restore((await heap.snapshot()).keyGroups, round);
          assert.equal(canonical((await switched.snapshot()).keyGroups), expected, `round ${round}: heap snapshot restored into the LevelDB backend`);
          assert.equal(reads(switched, 300), reads(heap, 300), `round ${round}: reads after the heap snapshot was restored`);
        } finally {
          await switched.close();
        }
      }
      assert.ok(deltas > 50, `deltas were written (${deltas})`);
    } finally {
      await inc.close();
      await full.close();
    }
  });
}

test('an incremental LevelDB backend restored from a chain extends it, and a heap backend can take over its chain', async () => {
  const rnd = seededRandom(5);
  const first = await leveldb({ incremental: true, cacheBytes: 4096 });
  const heap = new HeapKeyedStateBackend({ maxParallelism: M, range });
  await first.restore([]);
  const chains = new Chains();
  randomOps([first, heap], rnd, 500, 100);
  chains.apply(1, await first.snapshot(1), range);
  await first.close();

  const second = await leveldb({ incremental: true, cacheBytes: 4096 });
  try {
    await second.restore(chains.concatenated(), 1);
    const quiet = await second.snapshot(2);
    assert.equal(quiet.keyGroups.size, 0, 'nothing changed since the restore: no full blob');
    assert.equal(quiet.incremental!.deltas.size, 0);
    assert.equal(quiet.incremental!.parent, 1);
    chains.apply(2, quiet, range);
    randomOps([second, heap], rnd, 200, 100);
    const next = await second.snapshot(3);
    assert.ok(next.incremental!.deltas.size > 0, 'changes after the restore are deltas on the restored chains');
    chains.apply(3, next, range);
    const taken = new HeapKeyedStateBackend({ maxParallelism: M, range });
    await taken.restore(chains.concatenated(), 3);
    assert.equal(canonical((await taken.snapshot()).keyGroups), canonical((await heap.snapshot()).keyGroups));
  } finally {
    await second.close();
  }
});

test('the cache stays within its bound, and the working database is removed on close', async () => {
  const limit = 256 * 1024;
  const backend = await leveldb({ cacheBytes: limit });
  await backend.restore([]);
  const dir = backend.directory!;
  assert.ok(existsSync(dir));
  const count = backend.getValueState<{ n: number; pad: string }>('count');
  let peak = 0;
  for (let i = 0; i < 60_000; i++) {
    backend.setCurrentKey(`user-${i % 20_000}`);
    peak = Math.max(peak, backend.cacheBytes);
    const v = count.value();
    if (v === undefined) count.update({ n: 1, pad: 'x'.repeat(40) });
    else v.n++; // in place: must survive eviction
  }
  assert.ok(peak < limit * 1.1, `cache peaked at ${peak} bytes for a ${limit}-byte bound`);
  for (let i = 0; i < 20_000; i += 997) {
    backend.setCurrentKey(`user-${i}`);
    assert.equal(count.value()?.n, 3, `user-${i} counted three times`);
  }
  await backend.close();
  assert.ok(!existsSync(dir), 'working database removed');
});

test('keys used by one record only do not push out keys used again: a reduce reading then writing its key uses it once', async () => {
  // 200 keys used in turn, with two keys never seen again between each: in a cache of ~600 entries the 200 stay.
  // When the read and the write of one record counted as two uses, every one-time key got a second turn of the clock
  // hand, and 17 % of the returning keys' uses missed.
  const backend = await leveldb({ cacheBytes: 128 * 1024 });
  await backend.restore([]);
  const count = backend.getValueState<number>('count');
  const use = (key: string): void => {
    backend.setCurrentKey(key);
    count.update((count.value() ?? 0) + 1);
  };
  let misses = 0;
  let uses = 0;
  let once = 0;
  for (let round = 0; round < 40; round++) {
    for (let k = 0; k < 200; k++) {
      const before = backend.metrics().cache!.misses;
      use(`returning-${k}`);
      if (round >= 5) {
        uses++;
        misses += backend.metrics().cache!.misses - before;
      }
      use(`once-${once++}`);
      use(`once-${once++}`);
    }
  }
  assert.ok(misses / uses < 0.01, `${misses} of ${uses} uses of returning keys missed the cache`);
  backend.setCurrentKey('returning-7');
  assert.equal(count.value(), 40);
  backend.setCurrentKey('once-7');
  assert.equal(count.value(), 1, 'evicted one-time keys were written back');
  await backend.close();
});

test('a closed backend lets go of its cache: a runner that keeps its last attempt does not keep the state with it', async () => {
  const backend = await leveldb({ incremental: true });
  await backend.restore([]);
  const state = backend.getValueState<{ n: number }>('count');
  const cached = ((): WeakRef<object> => {
    backend.setCurrentKey('user-1');
    const value = { n: 1 };
    state.update(value);
    return new WeakRef(value);
  })();
  assert.equal(await collectedAfterGc(cached), false, 'the open backend caches the value (the check can see it kept)');
  await backend.close();
  assert.equal(await collectedAfterGc(cached), true, 'the closed backend no longer holds the value');
});

test('a corrupt chain is SLUICE_STATE_SNAPSHOT_CORRUPT, and an unusable folder is SLUICE_STATE_BACKEND_IO naming state.directory', async () => {
  const backend = await leveldb();
  try {
    await assert.rejects(backend.restore([[3, new Uint8Array([0x92, 0x01])]]), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_SNAPSHOT_CORRUPT'));
  } finally {
    await backend.close();
  }
  const parent = mkdtempSync(join(tmpdir(), 'sluice-leveldb-test-'));
  try {
    const file = join(parent, 'not-a-folder');
    writeFileSync(file, 'x');
    const broken = new LevelDbKeyedStateBackend({ maxParallelism: M, range, directory: file });
    await assert.rejects(broken.restore([]), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_BACKEND_IO') && /state\.directory/.test((e as Error).message));
    await broken.close();
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('keysWithState (applyToKeyedState) is refused with a message that says what to do', async () => {
  const backend = await leveldb();
  try {
    await backend.restore([]);
    assert.throws(() => backend.keysWithState('v'), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_BACKEND_UNSUPPORTED') && /heap state backend/.test((e as Error).message));
  } finally {
    await backend.close();
  }
});

test('a state name keeps its handle and its kind; a restored state used as another kind is refused', async () => {
  const heap = new HeapKeyedStateBackend({ maxParallelism: M, range });
  heap.setCurrentKey('a');
  heap.getMapState<string, number>('m').put('x', 1);
  const snapshot = await heap.snapshot();
  const backend = await leveldb();
  try {
    await backend.restore(snapshot.keyGroups);
    assert.equal(backend.getValueState('v'), backend.getValueState('v'), 'the same name gives the same handle');
    assert.throws(() => backend.getListState('v'), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_KIND_MISMATCH') && /"v" is value state/.test((e as Error).message));
    assert.throws(() => backend.getValueState('m'), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_KIND_MISMATCH') && /"m" is map state/.test((e as Error).message));
    backend.setCurrentKey('a');
    assert.equal(backend.getMapState<string, number>('m').get('x'), 1);
    assert.throws(() => backend.getValueState(''), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_INVALID_NAME'));
  } finally {
    await backend.close();
  }
});

test('write-backs queued faster than LevelDB takes them hold the subtask back (backpressure) until most are written', async () => {
  const backend = await leveldb({ cacheBytes: 4096 });
  try {
    await backend.restore([]);
    assert.equal(backend.backpressure(), undefined, 'nothing queued: no wait');
    const count = backend.getValueState<number>('count');
    // One synchronous run, as a batch of records is processed: every key evicts another, dirty, so every record
    // queues a write, and none of the batches LevelDB is given can finish before the event loop runs.
    for (let i = 0; i < 100_000; i++) {
      backend.setCurrentKey(`key-${i}`);
      count.update(i);
    }
    const wait = backend.backpressure();
    assert.ok(wait !== undefined, 'too many queued writes: the subtask must wait');
    await wait;
    assert.equal(backend.backpressure(), undefined, 'after the wait the queue is below the bound');
    backend.setCurrentKey('key-99');
    assert.equal(count.value(), 99, 'queued and written values read back');
  } finally {
    await backend.close();
  }
});

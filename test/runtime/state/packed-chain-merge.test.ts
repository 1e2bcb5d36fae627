import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeapKeyedStateBackend, keyGroupOf, materializeChain } from '../../../runtime/state/index.ts';
import { decodeKeyGroupBlob, packChunk, packDeltaHeader } from '../../../runtime/state/keyed-snapshot-format.ts';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';
import { mergePackedChain } from '../../../runtime/state/leveldb/packed-chain-merge.ts';
import { TimeSlicer } from '../../../runtime/state/time-slicer.ts';
import { seededRandom } from '../../../runtime/testing/seeded-random.ts';
import { canonical, Chains, randomOps } from '../../support/keyed-state-fixtures.ts';
import { countEventLoopTurns } from '../../support/event-loop-turns.ts';

const M = 16;
const range = { start: 0, end: M - 1 };

/** The chunk types of a blob, as decodeKeyGroupBlob reports them when packed pairs are left packed. */
function chunkTypes(keyGroup: number, blob: Uint8Array): Set<string> {
  return new Set([...decodeKeyGroupBlob(keyGroup, blob, { packed: true })].map((chunk) => chunk.type));
}

test('a LevelDB backend\'s chains merge byte for byte into packed full blobs that hold what the heap backend holds', async () => {
  const rnd = seededRandom(41);
  const heap = new HeapKeyedStateBackend({ maxParallelism: M, range });
  const leveldb = new LevelDbKeyedStateBackend({ maxParallelism: M, range, incremental: true, cacheBytes: 4096 });
  await leveldb.restore([]);
  const chains = new Chains();
  try {
    let merged = 0;
    for (let round = 1; round <= 8; round++) {
      randomOps([heap, leveldb], rnd, 400, 200);
      chains.apply(round, await leveldb.snapshot(round), range);
      const full = new Map<number, Uint8Array>();
      for (const [keyGroup, chain] of chains.concatenated()) {
        const blob = await materializeChain(keyGroup, M, chain);
        assert.ok(!chunkTypes(keyGroup, blob).has('state'), `round ${round}, key group ${keyGroup}: packed pairs only`);
        assert.ok(!chunkTypes(keyGroup, blob).has('tombstones') && [...decodeKeyGroupBlob(keyGroup, blob)].filter((c) => c.type === 'segment').length === 1, 'one full blob');
        if (chain.length !== blob.length) merged++;
        full.set(keyGroup, blob);
      }
      const expected = canonical((await heap.snapshot()).keyGroups);
      // Key groups left without state merge to a header alone: canonical() skips them as the heap snapshot does.
      assert.equal(canonical(full), expected, `round ${round}: merged chains hold the heap backend's state`);
      const restored = new LevelDbKeyedStateBackend({ maxParallelism: M, range, cacheBytes: 4096 });
      try {
        await restored.restore(full);
        assert.equal(canonical((await restored.snapshot()).keyGroups), expected, `round ${round}: the merged blobs restore`);
      } finally {
        await restored.close();
      }
    }
    assert.ok(merged > 10, `chains with deltas were merged (${merged})`);
  } finally {
    await leveldb.close();
  }
});

test('a chain with a delta of state chunks is decoded instead, to the same state', async () => {
  const heap = new HeapKeyedStateBackend({ maxParallelism: M, range });
  const leveldb = new LevelDbKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  await leveldb.restore([]);
  try {
    for (const backend of [heap, leveldb]) {
      for (let i = 0; i < 50; i++) {
        backend.setCurrentKey(`k${i}`);
        backend.getValueState<number>('v').update(i);
      }
    }
    const g = keyGroupOf('extra', M);
    const base = (await leveldb.snapshot(1)).keyGroups.get(g);
    assert.ok(base !== undefined, `key group ${g} holds some of the keys`);
    // A delta in the heap backend's form (state chunks) on the LevelDB backend's full blob.
    const delta = Buffer.concat([packDeltaHeader(g), packChunk(['s', 'v', 'value', 'extra', 7])]);
    const merged = await materializeChain(g, M, Buffer.concat([base, delta]));
    assert.ok(chunkTypes(g, merged).has('state'), 'decoded and re-packed by the heap backend');
    heap.setCurrentKey('extra');
    heap.getValueState<number>('v').update(7);
    assert.equal(canonical(new Map([[g, merged]])), canonical(new Map([[g, (await heap.snapshot()).keyGroups.get(g)!]])));
  } finally {
    await leveldb.close();
  }
});

test('a packed merge yields to the event loop between chunks (the coordinator runs it in the background)', async () => {
  const leveldb = new LevelDbKeyedStateBackend({ maxParallelism: 1, range: { start: 0, end: 0 }, incremental: true });
  await leveldb.restore([]);
  try {
    const count = leveldb.getValueState<number>('count');
    const chains = new Chains();
    for (let round = 1; round <= 2; round++) {
      for (let i = 0; i < 3 * 4096; i += round) {
        leveldb.setCurrentKey(`k${i}`);
        count.update(round);
      }
      chains.apply(round, await leveldb.snapshot(round), { start: 0, end: 0 });
    }
    const [[keyGroup, chain]] = [...chains.concatenated()] as [[number, Uint8Array]];
    // An event-loop turn counter: it runs again only when the merge yields to the event loop.
    const counter = countEventLoopTurns();
    // Slices of 0 ms: a yield at every chunk, however fast the machine.
    const merged = await mergePackedChain(keyGroup, chain, new TimeSlicer(0)).finally(() => counter.stop());
    const turns = counter.stop();
    assert.ok(merged !== undefined && merged.length < chain.length, 'the chain merged byte for byte');
    assert.ok(turns > 3, `other work ran between the merge's chunks (${turns} event-loop turns)`);
  } finally {
    await leveldb.close();
  }
});

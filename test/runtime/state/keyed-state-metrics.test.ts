/**
 * What a keyed state backend reports of itself (`metrics()`, exported as `sluice_state_*`): keys with state per named
 * state, pending timers, and the LevelDB backend's cache — hits, misses, evictions and its bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeapKeyedStateBackend, keyGroupRangeOf, type KeyedStateBackend } from '../../../runtime/state/index.ts';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';

const M = 16;
const range = keyGroupRangeOf(0, 1, M);

/** 30 keys of value state; 5 of them also with map state, one of which is emptied again; 2 + 1 timers. */
function fill(backend: KeyedStateBackend): void {
  const count = backend.getValueState<number>('count');
  const tags = backend.getMapState<string, number>('tags');
  for (let k = 0; k < 30; k++) {
    backend.setCurrentKey(`user-${k}`);
    count.update((count.value() ?? 0) + 1);
    if (k < 5) tags.put('seen', k);
  }
  backend.setCurrentKey('user-4');
  tags.remove('seen'); // an emptied map is no state
  backend.setCurrentKey('user-0');
  backend.registerTimer(1_000);
  backend.registerTimer(2_000);
  backend.registerEventTimeTimer(3_000);
}

for (const [name, create] of [
  ['heap', () => new HeapKeyedStateBackend({ maxParallelism: M, range })],
  ['LevelDB', () => new LevelDbKeyedStateBackend({ maxParallelism: M, range })],
] as const) {
  test(`the ${name} backend counts keys with state per named state, and pending timers`, async () => {
    const backend: KeyedStateBackend = create();
    await backend.restore([]);
    try {
      assert.deepEqual({ entries: backend.metrics().entries, timers: backend.metrics().timers }, { entries: 0, timers: 0 });
      fill(backend);
      assert.deepEqual({ entries: backend.metrics().entries, timers: backend.metrics().timers }, { entries: 30 + 4, timers: 3 });
      backend.setCurrentKey('user-7');
      backend.getValueState<number>('count').clear();
      assert.equal(backend.metrics().entries, 33, 'a cleared value is no state');
      assert.equal(backend.metrics().cache === undefined, name === 'heap', 'only the LevelDB backend has a cache');
    } finally {
      await backend.close();
    }
  });
}

test('the counts of a restored backend are those of the state it restored', async () => {
  for (const target of ['heap', 'leveldb'] as const) {
    const source = new HeapKeyedStateBackend({ maxParallelism: M, range });
    await source.restore([]);
    fill(source);
    const snapshot = await source.snapshot();
    const restored = target === 'heap' ? new HeapKeyedStateBackend({ maxParallelism: M, range }) : new LevelDbKeyedStateBackend({ maxParallelism: M, range });
    await restored.restore(snapshot.keyGroups);
    try {
      assert.deepEqual({ entries: restored.metrics().entries, timers: restored.metrics().timers }, { entries: 34, timers: 3 }, target);
    } finally {
      await restored.close();
    }
  }
});

test("the LevelDB backend's cache: a key's first read misses, later ones hit while it is cached", async () => {
  const backend = new LevelDbKeyedStateBackend({ maxParallelism: M, range, cacheBytes: 8 << 20 });
  await backend.restore([]);
  try {
    const count = backend.getValueState<number>('count');
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 100; k++) {
        backend.setCurrentKey(k);
        count.update((count.value() ?? 0) + 1);
      }
    }
    const cache = backend.metrics().cache!;
    assert.equal(cache.misses, 100, 'one miss per key: its first read');
    assert.ok(cache.hits >= 200, `every later read hits (${cache.hits})`);
    assert.equal(cache.evictions, 0);
    assert.equal(cache.limitBytes, 8 << 20);
    assert.ok(cache.bytes > 0 && cache.bytes <= cache.limitBytes);
  } finally {
    await backend.close();
  }
});

test("the LevelDB backend's cache: a small one evicts, stays near its bound, and reads evicted keys back", async () => {
  const limit = 4 * 1024;
  const backend = new LevelDbKeyedStateBackend({ maxParallelism: M, range, cacheBytes: limit });
  await backend.restore([]);
  try {
    const count = backend.getValueState<number>('count');
    for (let round = 0; round < 2; round++) {
      for (let k = 0; k < 500; k++) {
        backend.setCurrentKey(k);
        count.update((count.value() ?? 0) + 1);
      }
    }
    backend.setCurrentKey(0); // evictions run when the next key is set
    const cache = backend.metrics().cache!;
    assert.ok(cache.evictions >= 900, `most entries were evicted (${cache.evictions})`);
    assert.ok(cache.misses >= 900, `keys read again after eviction miss (${cache.misses})`);
    assert.ok(cache.bytes <= limit, `${cache.bytes} bytes cached, bound ${limit}`);
    assert.equal(backend.metrics().entries, 500);
    for (let k = 0; k < 500; k++) {
      backend.setCurrentKey(k);
      assert.equal(count.value(), 2, `key ${k}`);
    }
  } finally {
    await backend.close();
  }
});

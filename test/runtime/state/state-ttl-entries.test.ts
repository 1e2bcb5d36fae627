/**
 * A map's entries and a list's elements expire one by one, as Flink's: each `afterMs` after its own last write (or
 * read, with `refreshOnRead`). A key that keeps writing new entries does not keep its old ones alive, and the sweeps
 * remove expired entries of keys that are never read again. State written before entries had times of their own
 * still expires as it did.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, datagen } from '../../../connectors/dev/index.ts';
import { defineJob, mapState, type StateBackendOptions } from '../../../runtime/api/index.ts';
import { HeapKeyedStateBackend, keyGroupRangeOf, type KeyedStateBackend, type ListState, type MapState } from '../../../runtime/state/index.ts';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';
import { ttlEntryStampsName, ttlStampsName, type StateTtl } from '../../../runtime/state/ttl/state-ttl.ts';
import { withTtl, type ExpiringState } from '../../../runtime/state/ttl/ttl-handles.ts';
import { startJob } from '../../../runtime/testing/index.ts';

const M = 16;
const range = keyGroupRangeOf(0, 1, M);
const backends: Array<[string, () => KeyedStateBackend]> = [
  ['heap', () => new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true })],
  ['LevelDB', () => new LevelDbKeyedStateBackend({ maxParallelism: M, range })],
];

/** A TTL'd map and list of `backend` on a clock the test moves, and the key time both keep. */
function expiring(backend: KeyedStateBackend, ttl: StateTtl) {
  const clock = { now: 0 };
  const now = (): number => clock.now;
  return {
    clock,
    map: withTtl(backend, 'seen', 'map', now, ttl) as MapState<string, number> & ExpiringState,
    list: withTtl(backend, 'recent', 'list', now, ttl) as ListState<string> & ExpiringState,
    keyTime: (name: 'seen' | 'recent') => backend.getValueState<number>(ttlStampsName(name)).value(),
  };
}

async function withBackend(create: () => KeyedStateBackend, body: (backend: KeyedStateBackend) => void | Promise<void>): Promise<void> {
  const backend = create();
  await backend.restore([]);
  try {
    await body(backend);
  } finally {
    await backend.close();
  }
}

for (const [name, create] of backends) {
  test(`${name}: a map's entries expire one by one, each afterMs after its own last write`, () =>
    withBackend(create, (backend) => {
      const { clock, map, keyTime } = expiring(backend, { afterMs: 1_000 });
      backend.setCurrentKey('u1');
      map.put('a', 1);
      clock.now = 600;
      map.put('b', 2);
      clock.now = 999;
      assert.deepEqual([...map.entries()], [['a', 1], ['b', 2]]);
      clock.now = 1_000;
      assert.equal(map.get('a'), undefined, "'a' was written at 0");
      assert.equal(map.has('b'), true, "'b' was written at 600");
      assert.equal(map.size(), 1);
      assert.deepEqual([...map.keys()], ['b']);
      assert.equal(keyTime('seen'), 600, "the key's time moved up to the oldest entry left");
      map.put('b', 3); // a write: 'b' lives until 2000
      clock.now = 1_999;
      assert.deepEqual([...map.values()], [3]);
      clock.now = 2_000;
      assert.equal(map.size(), 0);
      assert.equal(backend.metrics().entries, 0, 'the map, its key time and its entry times are all gone');
    }));

  test(`${name}: a key that keeps writing new entries loses the old ones (a map of ids seen)`, () =>
    withBackend(create, (backend) => {
      const { clock, map } = expiring(backend, { afterMs: 1_000 });
      backend.setCurrentKey('u1');
      for (let id = 0; id < 100; id++) {
        clock.now = id * 100;
        assert.equal(map.has(`id${id % 20}`), false, `id${id % 20} was last seen 2 s before ${clock.now}`);
        map.put(`id${id % 20}`, id);
      }
      assert.deepEqual([...map.keys()].sort(), Array.from({ length: 10 }, (_, i) => `id${10 + i}`).sort(), 'the last second of ids');
    }));

  test(`${name}: with refreshOnRead, reading an entry keeps it alive, and reading the whole map keeps all`, () =>
    withBackend(create, (backend) => {
      const { clock, map } = expiring(backend, { afterMs: 1_000, refreshOnRead: true });
      backend.setCurrentKey(7);
      map.put('a', 1);
      map.put('b', 2);
      clock.now = 900;
      assert.equal(map.get('a'), 1);
      clock.now = 1_000;
      assert.deepEqual([...map.entries()], [['a', 1]], "'a' was read at 900; 'b' expired");
      clock.now = 1_999;
      assert.equal(map.size(), 1, 'size() counts what is alive');
      assert.deepEqual([...map.entries()], [['a', 1]], 'the read at 1000 kept it');
      clock.now = 2_998;
      assert.equal(map.size(), 1, 'the read at 1999 kept it');
      clock.now = 2_999;
      assert.equal(map.size(), 0, 'size() is not a read of the entries: the last read was at 1999');
    }));

  test(`${name}: a list's elements expire one by one, each afterMs after it was added`, () =>
    withBackend(create, (backend) => {
      const { clock, list, keyTime } = expiring(backend, { afterMs: 1_000 });
      backend.setCurrentKey('u1');
      list.add('x');
      clock.now = 400;
      list.addAll(['y', 'z']);
      clock.now = 999;
      assert.deepEqual(list.get(), ['x', 'y', 'z']);
      clock.now = 1_000;
      assert.deepEqual(list.get(), ['y', 'z']);
      assert.equal(keyTime('recent'), 400);
      list.add('w');
      clock.now = 1_400;
      assert.deepEqual(list.get(), ['w']);
      list.update(['v']); // every element written now
      clock.now = 2_399;
      assert.deepEqual(list.get(), ['v']);
      clock.now = 2_400;
      assert.deepEqual(list.get(), []);
      assert.equal(backend.metrics().entries, 0, 'the list and its times are all gone');
    }));

  test(`${name}: with refreshOnRead, reading a list keeps all its elements alive`, () =>
    withBackend(create, (backend) => {
      const { clock, list } = expiring(backend, { afterMs: 1_000, refreshOnRead: true });
      backend.setCurrentKey('u1');
      list.add('x');
      clock.now = 900;
      list.add('y');
      assert.equal(list.get().length, 2);
      clock.now = 1_899;
      assert.deepEqual(list.get(), ['x', 'y'], 'both read at 900');
      clock.now = 2_898;
      assert.deepEqual(list.get(), ['x', 'y'], 'both read at 1899');
      clock.now = 3_898;
      assert.deepEqual(list.get(), [], 'both expired 1000 ms after the read at 2898');
    }));

  test(`${name}: a map or a list written before entries had times still expires with its key's time, while new entries get their own`, () =>
    withBackend(create, (backend) => {
      // What an earlier Sluice stored: the state and one time per key (its last write), no time per entry.
      backend.setCurrentKey('old');
      backend.getMapState<string, number>('seen').put('a', 1);
      backend.getMapState<string, number>('seen').put('b', 2);
      backend.getValueState<number>(ttlStampsName('seen')).update(500);
      backend.getListState<string>('recent').addAll(['x', 'y']);
      backend.getValueState<number>(ttlStampsName('recent')).update(500);
      const { clock, map, list } = expiring(backend, { afterMs: 1_000 });
      clock.now = 1_000;
      map.put('c', 3);
      list.add('z');
      clock.now = 1_499;
      assert.deepEqual([...map.keys()], ['a', 'b', 'c']);
      assert.deepEqual(list.get(), ['x', 'y', 'z']);
      clock.now = 1_500;
      assert.deepEqual([...map.entries()], [['c', 3]], "the old entries expired when the key's last write did");
      assert.deepEqual(list.get(), ['z']);
      assert.equal(backend.getMapState<string, number>(ttlEntryStampsName('seen')).get('c'), 1_000);
    }));

  test(`${name}: a map with no times at all (written before the state had a ttl) lives until its next write`, () =>
    withBackend(create, (backend) => {
      backend.setCurrentKey('old');
      backend.getMapState<string, number>('seen').put('a', 1);
      const { clock, map } = expiring(backend, { afterMs: 1_000 });
      clock.now = 10_000;
      assert.equal(map.get('a'), 1);
      map.put('b', 2);
      clock.now = 10_999;
      assert.equal(map.size(), 2);
      clock.now = 11_000;
      assert.equal(map.size(), 0, "'a' counts from the write after it");
    }));
}

test('the heap sweep removes expired entries of keys no record reads again, through the handle', () =>
  withBackend(backends[0]![1], (backend) => {
    const { clock, map } = expiring(backend, { afterMs: 1_000 });
    for (let k = 0; k < 100; k++) {
      backend.setCurrentKey(`u${k}`);
      clock.now = 0;
      map.put('old', k);
      clock.now = 600;
      map.put('new', k);
    }
    clock.now = 1_200;
    const heap = backend as HeapKeyedStateBackend;
    const expireKey = (key: string | number): boolean => {
      backend.setCurrentKey(key);
      return map.expireIfIdle();
    };
    let removed = 0;
    for (let round = 0; round < 10 && removed < 100; round++) removed += heap.expireIdle('seen', clock.now - 1_000, 30, expireKey);
    assert.equal(removed, 100, 'every key had an expired entry');
    const inner = backend.getMapState<string, number>('seen');
    for (let k = 0; k < 100; k++) {
      backend.setCurrentKey(`u${k}`);
      assert.deepEqual([...inner.keys()], ['new'], `u${k}, read without the ttl`);
    }
    assert.equal(heap.expireIdle('seen', clock.now - 1_000, 1_000, expireKey), 0, 'nothing more expired until 1600');
  }));

test('the LevelDB backend names keys with expired entries, and their handles remove just those', () =>
  withBackend(
    () => new LevelDbKeyedStateBackend({ maxParallelism: M, range, cacheBytes: 64 * 1024 }),
    async (backend) => {
      const { clock, list } = expiring(backend, { afterMs: 1_000 });
      for (let k = 0; k < 1_000; k++) {
        backend.setCurrentKey(`u${k}`);
        clock.now = 0;
        list.add('old');
        clock.now = 600;
        list.add('new');
      }
      clock.now = 1_200;
      const leveldb = backend as LevelDbKeyedStateBackend;
      let removed = 0;
      for (let round = 0; round < 1_000 && removed < 1_000; round++) {
        for (const key of leveldb.idleKeys('recent', clock.now - 1_000, 64)) {
          backend.setCurrentKey(key);
          if (list.expireIfIdle()) removed++;
        }
        await new Promise((resolve) => setTimeout(resolve, 1)); // the scan reads the database in the background
      }
      assert.equal(removed, 1_000, 'every key, cached or not');
      const inner = backend.getListState<string>('recent');
      for (const k of [0, 500, 999]) {
        backend.setCurrentKey(`u${k}`);
        assert.deepEqual(inner.get(), ['new'], `u${k}, read without the ttl`);
      }
    },
  ));

/**
 * Events one second apart, all of user 'u', with ids that come back every 4 s: a map of the ids seen in the last
 * 2.5 s calls none of them a duplicate. Kept per key, as a whole, the map would live as long as the user keeps
 * sending and call every id after the first four a duplicate.
 */
function dedupJob(state?: StateBackendOptions) {
  return defineJob({ name: 'ttl-dedup', checkpoints: { intervalMs: 60_000 }, ...(state === undefined ? {} : { state }) }, (env) => {
    env
      .source(datagen({ count: 16, ratePerSecond: 1, record: (i) => ({ user: 'u', id: `e${i % 4}` }) }))
      .keyBy((r) => r.user)
      .process({
        state: { seen: mapState<string, true>({ ttl: { afterMs: 2_500 } }) },
        processElement(r, ctx) {
          if (ctx.state.seen.has(r.id)) return `dup ${r.id}`;
          ctx.state.seen.put(r.id, true);
          return r.id;
        },
      })
      .uid('dedup')
      .sink(collectSink())
      .uid('out');
  });
}

for (const [name, state] of [['heap', undefined], ['LevelDB', { backend: 'leveldb' } as StateBackendOptions]] as const) {
  test(`a job's map of ids seen forgets each id 2.5 s after it was seen, while its key stays busy (${name} backend, manual clock)`, async (t) => {
    const run = await startJob(dedupJob(state), { clock: 'manual' });
    t.after(() => run.close());
    const counted = (): number => run.runner.metrics().find((stage) => stage.operators.includes('dedup'))?.recordsIn ?? 0;
    for (let s = 1; s <= 16; s++) {
      await run.advance(1_000);
      await run.until(() => counted() === s);
    }
    assert.equal(await run.finished, 'finished');
    assert.deepEqual(run.outputs('out'), Array.from({ length: 16 }, (_, i) => `e${i % 4}`));
    const seen = await run.keyedState('dedup', { state: 'seen' });
    assert.equal(seen.length, 1);
    assert.ok(seen[0]!.value instanceof Map, String(seen[0]!.value));
    assert.ok(seen[0]!.value.size <= 3, `at most the ids of the last 2.5 s are kept, not all four: ${[...seen[0]!.value.keys()].join(', ')}`);
  });
}

/**
 * State with a time-to-live: a key's state is gone `afterMs` of processing time after its last write (or read, with
 * `refreshOnRead`), never read expired, and a write to an expired key starts from nothing. The last-use times are
 * keyed state themselves, so they survive checkpoints and restores; the heap backend also sweeps idle keys away.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, datagen } from '../../../connectors/dev/index.ts';
import { defineJob, listState, mapState, valueState, type StateBackendOptions } from '../../../runtime/api/index.ts';
import { HeapKeyedStateBackend, keyGroupRangeOf, type KeyedStateBackend, type ListState, type MapState, type ValueState } from '../../../runtime/state/index.ts';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';
import { TTL_SCAN_EVERY_MS } from '../../../runtime/state/leveldb/ttl-scan.ts';
import { ttlStampsName, type StateTtl } from '../../../runtime/state/ttl/state-ttl.ts';
import { withTtl, type ExpiringState } from '../../../runtime/state/ttl/ttl-handles.ts';
import { startJob } from '../../../runtime/testing/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { Chains } from '../../support/keyed-state-fixtures.ts';

const M = 16;
const range = keyGroupRangeOf(0, 1, M);
const backends: Array<[string, () => KeyedStateBackend]> = [
  ['heap', () => new HeapKeyedStateBackend({ maxParallelism: M, range })],
  ['heap, incremental', () => new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true })],
  ['LevelDB', () => new LevelDbKeyedStateBackend({ maxParallelism: M, range })],
];

/** A backend's states with a time-to-live, on a clock the test moves. */
function expiring(backend: KeyedStateBackend, ttl: StateTtl) {
  const clock = { now: 0 };
  const now = (): number => clock.now;
  return {
    clock,
    value: withTtl(backend, 'count', 'value', now, ttl) as ValueState<number> & ExpiringState,
    map: withTtl(backend, 'seen', 'map', now, ttl) as MapState<string, number> & ExpiringState,
    list: withTtl(backend, 'recent', 'list', now, ttl) as ListState<number> & ExpiringState,
  };
}

for (const [name, create] of backends) {
  test(`${name}: state expires afterMs after its last write, is never read expired, and a write to an expired key starts afresh`, async () => {
    const backend = create();
    await backend.restore([]);
    try {
      const { clock, value, map, list } = expiring(backend, { afterMs: 1_000 });
      backend.setCurrentKey('u1');
      value.update(1);
      map.put('a', 1);
      list.add(1);
      clock.now = 999;
      assert.deepEqual([value.value(), map.get('a'), list.get()], [1, 1, [1]], 'alive until afterMs passed');
      value.update(2); // a write: alive again for afterMs
      clock.now = 1_500;
      assert.equal(value.value(), 2, 'written at 999: alive until 1999');
      assert.equal(map.size(), 0, 'the map expired at 1000');
      assert.deepEqual(list.get(), []);
      map.put('b', 2); // a put into the expired map does not bring 'a' back
      list.add(2);
      assert.deepEqual([...map.entries()], [['b', 2]]);
      assert.deepEqual(list.get(), [2]);
      clock.now = 1_999;
      assert.equal(value.value(), undefined);
      assert.equal(backend.metrics().entries, 3 + 3, 'the expired value and its time are gone; the map and the list with their times (per key, per entry) stay');
      map.remove('b');
      assert.equal(map.size(), 0);
      list.clear();
      assert.equal(backend.metrics().entries, 0, 'nothing left: no state, no times');
    } finally {
      await backend.close();
    }
  });

  test(`${name}: with refreshOnRead, reads keep state alive too`, async () => {
    const backend = create();
    await backend.restore([]);
    try {
      const { clock, value } = expiring(backend, { afterMs: 1_000, refreshOnRead: true });
      backend.setCurrentKey(7);
      value.update(42);
      for (clock.now = 900; clock.now <= 4_500; clock.now += 900) assert.equal(value.value(), 42, `read at ${clock.now}`);
      clock.now += 1_000;
      assert.equal(value.value(), undefined);
    } finally {
      await backend.close();
    }
  });

  test(`${name}: last-use times are checkpointed: a restored key expires when it would have without the restart`, async () => {
    const backend = create();
    await backend.restore([]);
    const restored = create();
    try {
      const { value } = expiring(backend, { afterMs: 1_000 });
      backend.setCurrentKey('u1');
      value.update(1);
      const snapshot = await backend.snapshot(1);
      await restored.restore(snapshot.incremental === undefined ? snapshot.keyGroups : [...snapshot.keyGroups, ...snapshot.incremental.deltas], 1);
      const after = expiring(restored, { afterMs: 1_000 });
      restored.setCurrentKey('u1');
      after.clock.now = 999;
      assert.equal(after.value.value(), 1);
      after.clock.now = 1_000;
      assert.equal(after.value.value(), undefined);
    } finally {
      await backend.close();
      await restored.close();
    }
  });
}

test('the heap backend sweeps idle keys away a budget at a time, and an incremental checkpoint writes their tombstones', async () => {
  const backend = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  await backend.restore([]);
  const restored = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  try {
    const { clock, value } = expiring(backend, { afterMs: 1_000 });
    for (let k = 0; k < 300; k++) {
      clock.now = k < 200 ? 0 : 600; // 200 keys written at 0, 100 at 600
      backend.setCurrentKey(`u${k}`);
      value.update(k);
    }
    const chains = new Chains();
    chains.apply(1, await backend.snapshot(1), range);
    clock.now = 1_200; // the first 200 expired
    assert.equal(backend.expireIdle('count', clock.now - 1_000, 50), 50, 'at most the budget');
    let removed = 50;
    while (removed < 200) {
      const step = backend.expireIdle('count', clock.now - 1_000, 50);
      assert.ok(step > 0 && step <= 50, `a step removes some, within the budget (${step})`);
      removed += step;
    }
    assert.equal(removed, 200);
    assert.equal(backend.expireIdle('count', clock.now - 1_000, 1_000), 0, 'the live keys stay');
    assert.deepEqual(backend.keysWithState('count').sort(), Array.from({ length: 100 }, (_, i) => `u${200 + i}`).sort());
    assert.equal(backend.keysWithState(ttlStampsName('count')).length, 100, 'their times went with them');
    const second = await backend.snapshot(2);
    assert.ok(second.incremental!.deltas.size > 0, 'the removals are deltas of the chains');
    chains.apply(2, second, range);
    await restored.restore(chains.concatenated(), 2);
    assert.deepEqual(restored.keysWithState('count').sort(), backend.keysWithState('count').sort(), 'a restore of the chain holds the live keys only');
  } finally {
    await backend.close();
    await restored.close();
  }
});

test('the LevelDB backend finds idle keys no longer cached by scanning its database, and their handles remove them', async () => {
  // A cache of 64 KiB holds a few hundred entries: most keys are written back and evicted, found only on disk.
  const backend = new LevelDbKeyedStateBackend({ maxParallelism: M, range, cacheBytes: 64 * 1024 });
  await backend.restore([]);
  try {
    const { clock, value } = expiring(backend, { afterMs: 1_000 });
    const handle = value;
    for (let k = 0; k < 3_000; k++) {
      clock.now = k < 2_000 ? 0 : 600; // 2,000 keys written at 0, 1,000 at 600
      backend.setCurrentKey(`u${k}`);
      value.update(k);
    }
    clock.now = 1_200; // the first 2,000 expired
    let removed = 0;
    for (let round = 0; round < 1_000 && removed < 2_000; round++) {
      for (const key of backend.idleKeys('count', clock.now - 1_000, 64)) {
        backend.setCurrentKey(key);
        if (handle.expireIfIdle()) removed++;
      }
      await new Promise((resolve) => setTimeout(resolve, 1)); // the scan reads the database in the background
    }
    assert.equal(removed, 2_000, 'every expired key, cached or not');
    assert.equal(backend.metrics().entries, 2 * 1_000, 'the live keys and their times stay');
    for (const k of [0, 1_999, 2_000, 2_999]) {
      backend.setCurrentKey(`u${k}`);
      assert.equal(value.value(), k < 2_000 ? undefined : k, `u${k}`);
    }
    // Scans start at most every TTL_SCAN_EVERY_MS of processing time: the next one finds the rest once it has passed.
    const sweep = async (rounds: number): Promise<void> => {
      for (let round = 0; round < rounds; round++) {
        for (const key of backend.idleKeys('count', clock.now - 1_000, 64)) {
          backend.setCurrentKey(key);
          handle.expireIfIdle();
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    };
    clock.now = 1_200 + TTL_SCAN_EVERY_MS - 1;
    await sweep(50);
    assert.ok(backend.metrics().entries > 0, 'keys no longer cached wait for the next scan');
    clock.now = 1_200 + TTL_SCAN_EVERY_MS;
    for (let round = 0; round < 100 && backend.metrics().entries > 0; round++) await sweep(10);
    assert.equal(backend.metrics().entries, 0, 'the next scan found the keys written at 600');
  } finally {
    await backend.close(); // stops a scan still running
  }
});

/**
 * Records one second apart: 'a' at 1 and 2 s, 'b' from 3 to 6 s, 'a' again at 7 s (5 s after its last), then 'c'
 * from 8 to 15 s, while 'a' and 'b' go idle for good: enough batches after they expire (at 8.5 and 9.5 s) for the
 * sweep, one key per record on LevelDB, to come round to them.
 */
const KEYS = ['a', 'a', 'b', 'b', 'b', 'b', 'a', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'c'];

function ttlJob(state?: StateBackendOptions) {
  return defineJob({ name: 'ttl-counts', checkpoints: { intervalMs: 60_000 }, ...(state === undefined ? {} : { state }) }, (env) => {
    env
      .source(datagen({ count: KEYS.length, ratePerSecond: 1, record: (i) => ({ key: KEYS[i]! }) }))
      .keyBy((r) => r.key)
      .process({
        state: { count: valueState<number>({ ttl: { afterMs: 2_500 } }) },
        processElement(r, ctx) {
          const n = (ctx.state.count.value() ?? 0) + 1;
          ctx.state.count.update(n);
          return `${r.key}${n}`;
        },
      })
      .uid('counts')
      .sink(collectSink())
      .uid('out');
  });
}

for (const [name, state] of [['heap', undefined], ['LevelDB', { backend: 'leveldb' } as StateBackendOptions]] as const) {
  test(`a job's count with a 2.5 s time-to-live starts again for a key idle for longer (${name} backend, manual clock)`, async (t) => {
    const run = await startJob(ttlJob(state), { clock: 'manual' });
    t.after(() => run.close());
    // One record a second; each is counted at the second it is due (the sink commits at checkpoints: the end's).
    const counted = (): number => run.runner.metrics().find((stage) => stage.operators.includes('counts'))?.recordsIn ?? 0;
    for (let s = 1; s <= KEYS.length; s++) {
      await run.advance(1_000);
      await run.until(() => counted() === s);
    }
    assert.equal(await run.finished, 'finished');
    assert.deepEqual(run.outputs('out'), ['a1', 'a2', 'b1', 'b2', 'b3', 'b4', 'a1', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8']);
    // The final checkpoint: the idle keys were swept away, with their times.
    const stored = (await run.keyedState('counts')).map((e) => `${e.state} ${e.key}=${String(e.value)}`).sort();
    assert.deepEqual(stored, ['count c=8', 'sluice:ttl:count c=15000'], name);
  });
}

test('a bad time-to-live or a reserved state name fails the job\'s validation, naming both', async () => {
  const job = defineJob({ name: 'bad-ttl' }, (env) => {
    env
      .source(datagen({ count: 1, record: (i) => i }))
      .keyBy((n) => n)
      .process({
        state: { count: valueState<number>({ ttl: { afterMs: 0 } }), 'sluice:mine': mapState<string, number>(), recent: listState<number>({ ttl: { afterMs: 10, refreshOnRead: 'yes' as unknown as boolean } }) },
        processElement(n) {
          return n;
        },
      })
      .sink(collectSink());
  });
  await assert.rejects(startJob(job), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_INVALID_JOB'), String(err));
    assert.match(err.message, /state "count" with a bad time-to-live: ttl\.afterMs must be a positive whole number of ms, got 0/);
    assert.match(err.message, /state "sluice:mine": names starting with "sluice:" are Sluice's own; rename it/);
    assert.match(err.message, /state "recent" with a bad time-to-live: ttl\.refreshOnRead must be true or false, got yes/);
    return true;
  });
});

/** Keyed counts of 40 keys over 4,000 records, with a time-to-live no run reaches, and incremental checkpoints. */
function longTtlJob(state?: StateBackendOptions) {
  return defineJob({ name: 'ttl-exactly-once', parallelism: 2, checkpoints: { intervalMs: 20, incremental: true }, ...(state === undefined ? {} : { state }) }, (env) => {
    env
      .source(datagen({ count: 4_000, splits: 2, batchSize: 50, ratePerSecond: 40_000, record: (i) => ({ key: `k${(i * 7919) % 40}`, i }) }))
      .keyBy((r) => r.key)
      .process({
        state: { count: valueState<number>({ ttl: { afterMs: 3_600_000 } }), seen: mapState<number, number>({ ttl: { afterMs: 3_600_000, refreshOnRead: true } }) },
        processElement(r, ctx) {
          const n = (ctx.state.count.value() ?? 0) + 1;
          ctx.state.count.update(n);
          ctx.state.seen.put(r.i % 5, n);
          return `${r.key} ${n} ${ctx.state.seen.size()}`;
        },
      })
      .uid('counts')
      .sink(collectSink())
      .uid('out');
  });
}

for (const [name, state] of [['heap', undefined], ['LevelDB', { backend: 'leveldb' } as StateBackendOptions]] as const) {
  test(`TTL'd state through seeded crashes stays exactly once: each key counts 1, 2, … 100 in order (${name} backend)`, async (t) => {
    const run = await startJob(longTtlJob(state), { faults: { crashes: 3, seed: 7 } });
    t.after(() => run.close());
    assert.equal(await run.finished, 'finished');
    assert.equal(run.faults.fired.length, 3, 'every planned crash happened');
    const perKey = new Map<string, number[]>();
    for (const line of run.outputs<string>('out')) {
      const [key, n] = line.split(' ');
      perKey.set(key!, [...(perKey.get(key!) ?? []), Number(n)]);
    }
    assert.equal(perKey.size, 40);
    for (const [key, counts] of perKey) assert.deepEqual(counts, Array.from({ length: 100 }, (_, i) => i + 1), key);
    const times = (await run.keyedState('counts', { state: 'sluice:ttl:count' })).length;
    assert.equal(times, 40, 'every key has its last-use time, restored with its count');
  });
}

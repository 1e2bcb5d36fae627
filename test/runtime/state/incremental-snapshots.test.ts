import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HeapKeyedStateBackend,
  keyGroupRangeOf,
  materializeChain,
} from '../../../runtime/state/index.ts';
import { decodeKeyGroupBlob, packHeader } from '../../../runtime/state/keyed-snapshot-format.ts';
import { seededRandom } from '../../../runtime/testing/seeded-random.ts';
import { canonical, Chains, randomOps } from '../../support/keyed-state-fixtures.ts';

const M = 32;

// Deterministic pseudo-random operations, so a failure reproduces.
const random = seededRandom;

test('incremental snapshots restore to exactly what a full snapshot holds, round after round, at any parallelism', async () => {
  const rnd = random(7);
  const range = { start: 0, end: M - 1 };
  const inc = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  const full = new HeapKeyedStateBackend({ maxParallelism: M, range });
  const chains = new Chains();
  let deltas = 0;
  let unchanged = 0;
  let rebases = 0;
  for (let round = 1; round <= 30; round++) {
    randomOps([inc, full], rnd, round % 5 === 0 ? 20 : 600, 300);
    if (round % 7 === 0) {
      // timers fire (and leave the queues) in both
      assert.deepEqual(inc.pollDueTimers(1000 + round), full.pollDueTimers(1000 + round));
      assert.deepEqual(inc.pollDueEventTimeTimers(2000 + round), full.pollDueEventTimeTimers(2000 + round));
    }
    const snapshot = await inc.snapshot(round);
    deltas += snapshot.incremental!.deltas.size;
    unchanged += snapshot.incremental!.unchanged.length;
    if (round > 1) rebases += snapshot.keyGroups.size;
    chains.apply(round, snapshot, range);
    const expected = canonical((await full.snapshot()).keyGroups);
    for (const parallelism of [1, 3, 8]) {
      const restored: Map<number, Uint8Array> = new Map();
      for (let s = 0; s < parallelism; s++) {
        const part = new HeapKeyedStateBackend({ maxParallelism: M, range: keyGroupRangeOf(s, parallelism, M) });
        await part.restore(chains.concatenated(), round);
        for (const [g, blob] of (await part.snapshot()).keyGroups) restored.set(g, blob);
      }
      assert.equal(canonical(restored), expected, `round ${round}, restored at p = ${parallelism}`);
    }
  }
  assert.ok(deltas > 100, `deltas were written (${deltas})`);
  assert.ok(unchanged > 10, `quiet rounds keep key groups unchanged (${unchanged})`);
  assert.ok(rebases > 0, `chains were rebased (${rebases})`);
});

test('an incremental backend restored from a chain goes on extending it; a restore without a checkpoint id starts full chains', async () => {
  const range = { start: 0, end: M - 1 };
  const first = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  const rnd = random(11);
  randomOps([first], rnd, 500, 100);
  const chains = new Chains();
  chains.apply(1, await first.snapshot(1), range);
  randomOps([first], rnd, 50, 100);
  chains.apply(2, await first.snapshot(2), range);

  const second = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  await second.restore(chains.concatenated(), 2);
  const quiet = await second.snapshot(3);
  assert.equal(quiet.keyGroups.size, 0, 'nothing changed since the restore: no full blob');
  assert.equal(quiet.incremental!.deltas.size, 0);
  assert.equal(quiet.incremental!.parent, 2);
  chains.apply(3, quiet, range);

  const unknown = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  await unknown.restore(chains.concatenated());
  const fresh = await unknown.snapshot(4);
  assert.equal(fresh.incremental!.parent, undefined);
  assert.equal(fresh.incremental!.deltas.size + fresh.incremental!.unchanged.length, 0);
  assert.equal(fresh.keyGroups.size, chains.byGroup.size, 'every key group with state is written in full');
});

test('a delta holds exactly the keys written, deleted or read as objects since the previous snapshot', async () => {
  const range = { start: 0, end: M - 1 };
  const backend = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  const count = backend.getValueState<number>('count');
  const totals = backend.getValueState<{ n: number }>('totals');
  for (let k = 0; k < 200; k++) {
    backend.setCurrentKey(`k${k}`);
    count.update(k);
    totals.update({ n: k });
  }
  const chains = new Chains();
  chains.apply(1, await backend.snapshot(1), range);
  const keysInDeltas = async (id: number): Promise<string[]> => {
    const snapshot = await backend.snapshot(id);
    assert.equal(snapshot.keyGroups.size, 0, 'every key group has a chain: deltas only');
    chains.apply(id, snapshot, range);
    const keys: string[] = [];
    for (const [keyGroup, delta] of snapshot.incremental!.deltas) {
      for (const chunk of decodeKeyGroupBlob(keyGroup, Buffer.concat([packHeader(keyGroup), delta]))) {
        if (chunk.type === 'state') for (let j = chunk.from; j < chunk.pairs.length; j += 2) keys.push(`${chunk.name}:${String(chunk.pairs[j])}`);
        if (chunk.type === 'tombstones') for (let j = chunk.from; j < chunk.keys.length; j++) keys.push(`-${chunk.name}:${String(chunk.keys[j])}`);
      }
    }
    return keys.sort();
  };
  // Reading a number cannot change it; reading an object may (it can be changed in place), so it is written.
  for (let k = 0; k < 200; k++) {
    backend.setCurrentKey(`k${k}`);
    assert.equal(count.value(), k);
  }
  backend.setCurrentKey('k3');
  totals.value()!.n = 1000;
  assert.deepEqual(await keysInDeltas(2), ['totals:k3']);
  // Written twice, deleted, deleted and written again: each key once.
  backend.setCurrentKey('k5');
  count.update(50);
  count.update(51);
  backend.setCurrentKey('k6');
  count.clear();
  backend.setCurrentKey('k7');
  count.clear();
  count.update(70);
  assert.deepEqual(await keysInDeltas(3), ['-count:k6', 'count:k5', 'count:k7']);
  assert.deepEqual(await keysInDeltas(4), [], 'nothing since');

  const restored = new HeapKeyedStateBackend({ maxParallelism: M, range });
  await restored.restore(chains.concatenated(), 4);
  const expected = new Map([['k3', [3, 1000]], ['k5', [51, 5]], ['k6', [undefined, 6]], ['k7', [70, 7]], ['k8', [8, 8]]]);
  for (const [key, [c, n]] of expected) {
    restored.setCurrentKey(key);
    assert.deepEqual([restored.getValueState<number>('count').value(), restored.getValueState<{ n: number }>('totals').value()!.n], [c, n], key);
  }
});

test('keys that come and go between two checkpoints do not pile up: the touched list stays within twice the live keys', async () => {
  const range = { start: 0, end: M - 1 };
  const backend = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  const state = backend.getValueState<number>('window');
  backend.setCurrentKey('kept');
  state.update(1);
  const chains = new Chains();
  chains.apply(1, await backend.snapshot(1), range);
  for (let minute = 0; minute < 50; minute++) {
    for (let k = 0; k < 1000; k++) {
      backend.setCurrentKey(`k${k}@${minute}`);
      state.update(minute);
    }
    for (let k = 0; k < 1000; k++) {
      backend.setCurrentKey(`k${k}@${minute}`);
      if (minute < 49 || k % 2 === 0) state.clear(); // the last minute leaves 500 keys
    }
    assert.ok(backend.touchedEntryCount('window') <= 2 * 1001 + 4096 + 1, `minute ${minute}: ${backend.touchedEntryCount('window')} listed`);
  }
  chains.apply(2, await backend.snapshot(2), range);
  const restored = new HeapKeyedStateBackend({ maxParallelism: M, range });
  await restored.restore(chains.concatenated(), 2);
  assert.deepEqual(restored.keysWithState('window').sort(), ['kept', ...Array.from({ length: 500 }, (_, i) => `k${2 * i + 1}@49`)].sort());
});

test('deleted keys, emptied maps swept between checkpoints and fired timers leave no state behind after a restore', async () => {
  const range = { start: 0, end: M - 1 };
  const b = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  const map = b.getMapState<string, number>('m');
  const value = b.getValueState<number>('v');
  for (let k = 0; k < 5000; k++) {
    b.setCurrentKey(k);
    map.put('a', k);
    value.update(k);
    b.registerEventTimeTimer(10);
  }
  const chains = new Chains();
  chains.apply(1, await b.snapshot(1), range);
  for (let k = 0; k < 5000; k++) {
    b.setCurrentKey(k);
    map.remove('a'); // empties the map; past 4096 emptied maps, they are swept
    if (k % 2 === 0) value.clear();
  }
  assert.ok(b.tableEntryCount('m') < 5000, 'the emptied maps were swept');
  b.pollDueEventTimeTimers(10);
  chains.apply(2, await b.snapshot(2), range);
  const restored = new HeapKeyedStateBackend({ maxParallelism: M, range });
  await restored.restore(chains.concatenated(), 2);
  assert.equal(restored.keyCount(), 2500, 'only the odd keys keep their value');
  assert.equal(restored.eventTimeTimerCount(), 0, 'fired timers stay fired');
  restored.setCurrentKey(3);
  assert.equal(restored.getValueState<number>('v').value(), 3);
  assert.equal(restored.getMapState<string, number>('m').size(), 0);
});

test('materializeChain turns a chain into the equivalent full blob', async () => {
  const range = { start: 0, end: M - 1 };
  const b = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  const rnd = random(3);
  const chains = new Chains();
  for (let round = 1; round <= 4; round++) {
    randomOps([b], rnd, 300, 80);
    chains.apply(round, await b.snapshot(round), range);
  }
  const merged = new Map<number, Uint8Array>();
  for (const [g, blob] of chains.concatenated()) {
    merged.set(g, await materializeChain(g, M, blob));
  }
  const reference = new HeapKeyedStateBackend({ maxParallelism: M, range });
  await reference.restore(chains.concatenated());
  assert.equal(canonical(merged), canonical((await reference.snapshot()).keyGroups));
});

test('a delta blob alone, or a full blob after a delta, is rejected as corrupt', async () => {
  const range = { start: 0, end: M - 1 };
  const b = new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true });
  for (let k = 0; k < 3000; k++) {
    b.setCurrentKey(k);
    b.getValueState<number>('v').update(k);
  }
  const first = await b.snapshot(1);
  b.setCurrentKey(1);
  b.getValueState<number>('v').update(100);
  const second = await b.snapshot(2);
  const [g, delta] = [...second.incremental!.deltas][0]!;
  const base = first.keyGroups.get(g)!;
  const fresh = (): HeapKeyedStateBackend => new HeapKeyedStateBackend({ maxParallelism: M, range });
  await assert.rejects(fresh().restore([[g, delta]]), /SLUICE_STATE_SNAPSHOT_CORRUPT|no full blob before it/);
  await assert.rejects(fresh().restore([[g, Buffer.concat([base, delta, base])]]), /a full blob follows another blob/);
  const ok = fresh();
  await ok.restore([[g, Buffer.concat([base, delta])]]);
  ok.setCurrentKey(1);
  assert.equal(ok.getValueState<number>('v').value(), 100);
});

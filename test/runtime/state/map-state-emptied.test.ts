import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeapKeyedStateBackend, keyGroupRangeOf, type StateKey } from '../../../runtime/state/index.ts';

// A map state keeps the entry of a key whose map was emptied, for reuse (runtime/state/map-state.ts). These tests
// pin down that an emptied map is no state anywhere a user or a checkpoint can see it.

const M = 128;

function backend(): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend({ maxParallelism: M, range: keyGroupRangeOf(0, 1, M) });
}

/** Every key's map state in a restored copy of `b`: what a checkpoint holds. */
async function restoredMaps(b: HeapKeyedStateBackend, keys: StateKey[]): Promise<Map<StateKey, Array<[StateKey, unknown]>>> {
  const copy = backend();
  await copy.restore((await b.snapshot()).keyGroups);
  const m = copy.getMapState<StateKey, unknown>('m');
  const out = new Map<StateKey, Array<[StateKey, unknown]>>();
  for (const key of keys) {
    copy.setCurrentKey(key);
    if (m.size() > 0) out.set(key, [...m.entries()]);
  }
  assert.equal(copy.keyCount(), out.size, 'a restored backend holds only keys with state');
  return out;
}

test('a key whose map was emptied has no state: not counted, not snapshotted, reads as empty, and fills again', async () => {
  const b = backend();
  const m = b.getMapState<number, string>('m');
  for (const key of ['a', 'b', 'c']) {
    b.setCurrentKey(key);
    m.put(1, `${key}1`);
    m.put(2, `${key}2`);
  }
  b.setCurrentKey('b');
  m.remove(1);
  m.remove(2);
  assert.equal(m.size(), 0);
  assert.equal(m.get(1), undefined);
  assert.deepEqual([...m.values()], []);
  assert.equal(b.keyCount(), 2);
  assert.deepEqual([...(await restoredMaps(b, ['a', 'b', 'c'])).keys()], ['a', 'c']);

  m.put(3, 'b3'); // the emptied map is used again
  assert.deepEqual([...m.entries()], [[3, 'b3']]);
  assert.equal(b.keyCount(), 3);
  assert.deepEqual((await restoredMaps(b, ['a', 'b', 'c'])).get('b'), [[3, 'b3']]);
});

test('removing the last entry of a map that has others leaves the others; removing an absent entry changes nothing', () => {
  const b = backend();
  const m = b.getMapState<number, string>('m');
  b.setCurrentKey('k');
  m.remove(1); // no map yet
  m.put(1, 'x');
  m.remove(2); // absent: the map keeps its one entry
  assert.deepEqual([...m.entries()], [[1, 'x']]);
  assert.equal(b.keyCount(), 1);
  m.put(2, 'y');
  m.remove(1);
  assert.deepEqual([...m.entries()], [[2, 'y']]);
  m.remove(2);
  assert.equal(b.keyCount(), 0);
});

test('clear() of an emptied map and keys counted over several states', () => {
  const b = backend();
  const m = b.getMapState<number, number>('m');
  const v = b.getValueState<number>('v');
  b.setCurrentKey('k');
  m.put(1, 1);
  m.remove(1);
  b.setCurrentKey('j');
  v.update(1);
  assert.equal(b.keyCount(), 1, 'the emptied map of k is not a key with state; j has value state');
  b.setCurrentKey('k');
  m.clear();
  assert.equal(b.keyCount(), 1);
  m.put(2, 2);
  assert.equal(b.keyCount(), 2);
});

test('a restore over an emptied map replaces it and counts it as state', async () => {
  const source = backend();
  const sm = source.getMapState<number, string>('m');
  source.setCurrentKey('k');
  sm.put(1, 'restored');

  const b = backend();
  const m = b.getMapState<number, string>('m');
  b.setCurrentKey('k');
  m.put(9, 'x');
  m.remove(9);
  assert.equal(b.keyCount(), 0);
  await b.restore((await source.snapshot()).keyGroups);
  assert.equal(b.keyCount(), 1);
  b.setCurrentKey('k');
  assert.deepEqual([...m.entries()], [[1, 'restored']]);
  m.remove(1);
  assert.equal(b.keyCount(), 0, 'the restored entry empties like any other');
});

test('emptied maps of keys that never come back are swept: the table does not grow with dead keys', async () => {
  const b = backend();
  const m = b.getMapState<number, number>('m');
  // 100 live keys, then 50,000 keys that each hold one entry and lose it (like session ids).
  for (let i = 0; i < 100; i++) {
    b.setCurrentKey(`live-${i}`);
    m.put(0, i);
  }
  for (let i = 0; i < 50_000; i++) {
    b.setCurrentKey(`gone-${i}`);
    m.put(0, i);
    m.remove(0);
  }
  assert.equal(b.keyCount(), 100);
  const snapshotKeys = await restoredMaps(b, Array.from({ length: 100 }, (_, i) => `live-${i}`));
  assert.equal(snapshotKeys.size, 100);
  // The sweep leaves at most max(4096, 4 × live) emptied entries; 50,100 would mean no sweep ran.
  assert.ok(b.tableEntryCount('m') <= 100 + 4097, `table holds ${b.tableEntryCount('m')} entries`);
});

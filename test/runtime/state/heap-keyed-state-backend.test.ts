import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import {
  HeapKeyedStateBackend,
  keyGroupOf,
  keyGroupRangeOf,
  ownerOfKeyGroup,
  type KeyedStateSnapshot,
  type StateKey,
} from '../../../runtime/state/index.ts';
import { collectedAfterGc } from '../../support/collected.ts';

const M = 128;

function backendFor(subtask: number, parallelism: number, maxParallelism = M): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend({ maxParallelism, range: keyGroupRangeOf(subtask, parallelism, maxParallelism) });
}

interface Dump {
  values: Map<StateKey, unknown>;
  maps: Map<StateKey, Array<[StateKey, unknown]>>;
  lists: Map<StateKey, unknown[]>;
  timers: Array<{ key: StateKey; timestamp: number }>;
}

/** Reads every given key's state through the public handles (and drains timers), for equality checks. */
function dump(backend: HeapKeyedStateBackend, keys: Iterable<StateKey>): Dump {
  const value = backend.getValueState<unknown>('v');
  const map = backend.getMapState<StateKey, unknown>('m');
  const list = backend.getListState<unknown>('l');
  const out: Dump = { values: new Map(), maps: new Map(), lists: new Map(), timers: [] };
  for (const key of keys) {
    backend.setCurrentKey(key);
    if (value.value() !== undefined) out.values.set(key, value.value());
    if (map.size() > 0) out.maps.set(key, [...map.entries()]);
    if (list.get().length > 0) out.lists.set(key, [...list.get()]);
  }
  out.timers = backend.pollDueTimers(Number.MAX_SAFE_INTEGER);
  return out;
}

/** Keys of both types, some numeric strings that collide in text with numeric keys. */
function sampleKeys(n: number): StateKey[] {
  const keys: StateKey[] = [];
  for (let i = 0; i < n; i++) keys.push(i % 4 === 0 ? i : i % 4 === 1 ? String(i - 1) : `key-${i}-é`.slice(0, i % 2 ? 6 : 9));
  return [...new Set(keys)];
}

function fill(backend: HeapKeyedStateBackend, keys: StateKey[]): void {
  const value = backend.getValueState<unknown>('v');
  const map = backend.getMapState<StateKey, unknown>('m');
  const list = backend.getListState<unknown>('l');
  for (const [i, key] of keys.entries()) {
    backend.setCurrentKey(key);
    value.update(i % 5 === 0 ? { count: i, tags: ['a', 'b'], nested: new Map([[1, 'x']]) } : i);
    if (i % 3 === 0) {
      map.put('a', i);
      map.put(7, { deep: [i] });
    }
    if (i % 4 === 0) list.addAll([i, `s${i}`]);
    if (i % 7 === 0) backend.registerTimer(1000 + (i % 13));
  }
}

test('value, map and list state are per key, and empty state disappears', () => {
  const b = backendFor(0, 1);
  const count = b.getValueState<number>('count');
  const seen = b.getMapState<string, number>('seen');
  const log = b.getListState<string>('log');
  assert.equal(b.getValueState<number>('count'), count, 'same name, same handle');
  b.setCurrentKey('a');
  count.update(1);
  seen.put('x', 1);
  log.add('one');
  b.setCurrentKey(1);
  assert.equal(count.value(), undefined);
  assert.equal(seen.size(), 0);
  assert.deepEqual(log.get(), []);
  count.update(10);
  b.setCurrentKey('1');
  assert.equal(count.value(), undefined, 'number 1 and string "1" are different keys');
  b.setCurrentKey('a');
  assert.equal(count.value(), 1);
  assert.equal(seen.get('x'), 1);
  assert.equal(seen.has('y'), false);
  assert.deepEqual([...seen.keys()], ['x']);
  assert.deepEqual(log.get(), ['one']);
  assert.equal(b.keyCount(), 2);
  seen.remove('x');
  log.update([]);
  count.clear();
  assert.equal(b.keyCount(), 1, 'key "a" has no state left');
  b.setCurrentKey(1);
  count.update(undefined as unknown as number);
  assert.equal(b.keyCount(), 0);
});

test('mixing kinds under one name, missing current key and bad keys are SluiceErrors', () => {
  const b = backendFor(0, 1);
  b.getValueState('x');
  assert.throws(() => b.getMapState('x'), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_KIND_MISMATCH'));
  assert.throws(() => b.getValueState<number>('x').value(), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_NO_CURRENT_KEY'));
  assert.throws(() => b.setCurrentKey({} as unknown as string), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_INVALID_KEY'));
  assert.throws(() => b.getListState(''), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_INVALID_NAME'));
});

test('inserting a key of another subtask\'s key group is refused', () => {
  const b = backendFor(0, 2);
  const v = b.getValueState<number>('v');
  let foreign: string | undefined;
  for (let i = 0; foreign === undefined; i++) if (ownerOfKeyGroup(keyGroupOf(`k${i}`, M), 2, M) === 1) foreign = `k${i}`;
  b.setCurrentKey(foreign);
  assert.equal(v.value(), undefined, 'reads do not hash');
  assert.throws(() => v.update(1), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_KEY_OUT_OF_RANGE'));
});

test('timers: one per key and timestamp, polled in timestamp order, deletable', () => {
  const b = backendFor(0, 1);
  b.setCurrentKey('a');
  b.registerTimer(30);
  b.registerTimer(10);
  b.registerTimer(10);
  b.setCurrentKey(2);
  b.registerTimer(10);
  b.registerTimer(20);
  b.deleteTimer(20);
  b.registerTimer(20);
  b.deleteTimer(20);
  assert.equal(b.nextTimerTimestamp(), 10);
  assert.deepEqual(b.pollDueTimers(9), []);
  assert.deepEqual(b.pollDueTimers(25), [{ key: 'a', timestamp: 10 }, { key: 2, timestamp: 10 }]);
  assert.equal(b.nextTimerTimestamp(), 30);
  assert.deepEqual(b.pollDueTimers(100), [{ key: 'a', timestamp: 30 }]);
  assert.equal(b.nextTimerTimestamp(), undefined);
  assert.throws(() => b.registerTimer(Number.NaN), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_INVALID_TIMER'));

  // Grouped by timestamp (what windows poll): timestamp order, keys in registration order, each timer once.
  for (const [key, at] of [['x', 50], ['y', 40], ['z', 50], ['x', 40], ['y', 60]] as const) {
    b.setCurrentKey(key);
    b.registerEventTimeTimer(at);
  }
  b.setCurrentKey('z');
  b.registerEventTimeTimer(50);
  assert.deepEqual(b.pollDueEventTimeTimerGroups(55), [{ timestamp: 40, keys: ['y', 'x'] }, { timestamp: 50, keys: ['x', 'z'] }]);
  assert.equal(b.eventTimeTimerCount(), 1);
  assert.deepEqual(b.pollDueEventTimeTimerGroups(Number.MAX_SAFE_INTEGER), [{ timestamp: 60, keys: ['y'] }]);
});

test('timers stay ordered under heavy register/delete churn', () => {
  const b = backendFor(0, 1);
  const live = new Map<string, number>();
  for (let i = 0; i < 5000; i++) {
    const key = `k${i % 97}`;
    const ts = Math.floor(Math.random() * 1000);
    b.setCurrentKey(key);
    if (Math.random() < 0.4 && live.size > 0) {
      const [k, t] = [...live.entries()][Math.floor(Math.random() * live.size)]!;
      const [kk] = k.split('@');
      b.setCurrentKey(kk!);
      b.deleteTimer(t);
      live.delete(k);
    } else {
      b.registerTimer(ts);
      live.set(`${key}@${ts}`, ts);
    }
  }
  const polled = b.pollDueTimers(1000);
  assert.equal(polled.length, live.size);
  for (let i = 1; i < polled.length; i++) assert.ok(polled[i - 1]!.timestamp <= polled[i]!.timestamp);
  assert.deepEqual(new Set(polled.map((t) => `${t.key}@${t.timestamp}`)), new Set(live.keys()));
});

test('snapshot → restore round trip keeps values, key types and timers', async () => {
  const keys = sampleKeys(20_000);
  const original = backendFor(0, 1);
  fill(original, keys);
  const snapshot = await original.snapshot();
  assert.ok(snapshot.keyGroups.size > 100 && snapshot.keyGroups.size <= M);
  const restored = backendFor(0, 1);
  await restored.restore(snapshot.keyGroups);
  assert.equal(restored.keyCount(), original.keyCount());
  const a = dump(original, keys);
  const b = dump(restored, keys);
  assert.ok(a.values.size === keys.length && a.maps.size > 0 && a.lists.size > 0 && a.timers.length > 0);
  assert.deepEqual(b.values, a.values);
  assert.deepEqual(b.maps, a.maps);
  assert.deepEqual(b.lists, a.lists);
  const byKeyThenTime = (x: { key: StateKey; timestamp: number }): string => `${typeof x.key}:${x.key}@${x.timestamp}`;
  assert.deepEqual(new Set(b.timers.map(byKeyThenTime)), new Set(a.timers.map(byKeyThenTime)));
  assert.equal(b.timers.length, a.timers.length);
  for (let i = 1; i < b.timers.length; i++) assert.ok(b.timers[i - 1]!.timestamp <= b.timers[i]!.timestamp);
});

test('a key group larger than one chunk and objects with > 65,535 keys survive', async () => {
  const original = new HeapKeyedStateBackend({ maxParallelism: 1, range: { start: 0, end: 0 } });
  const v = original.getValueState<unknown>('v');
  for (let i = 0; i < 10_000; i++) {
    original.setCurrentKey(i);
    v.update(i);
  }
  const wide: Record<string, number> = {};
  for (let i = 0; i < 70_000; i++) wide[`f${i}`] = i;
  original.setCurrentKey('wide');
  v.update(wide);
  const { keyGroups } = await original.snapshot();
  const restored = new HeapKeyedStateBackend({ maxParallelism: 1, range: { start: 0, end: 0 } });
  await restored.restore(keyGroups);
  const rv = restored.getValueState<unknown>('v');
  restored.setCurrentKey(9999);
  assert.equal(rv.value(), 9999);
  restored.setCurrentKey('9999');
  assert.equal(rv.value(), undefined);
  restored.setCurrentKey('wide');
  assert.deepEqual(rv.value(), wide);
  assert.equal(restored.keyCount(), 10_001);
});

test('rescaling: snapshots of p=3 restored into p=1, 2, 5, 8 put every key exactly once, in its owner', async () => {
  const keys = sampleKeys(6000);
  const old = [0, 1, 2].map((i) => backendFor(i, 3));
  const value = (k: StateKey): unknown => ({ k, n: typeof k === 'number' ? k * 2 : k.length });
  for (const key of keys) {
    const b = old[ownerOfKeyGroup(keyGroupOf(key, M), 3, M)]!;
    b.setCurrentKey(key);
    b.getValueState<unknown>('v').update(value(key));
  }
  const snapshots: KeyedStateSnapshot[] = await Promise.all(old.map((b) => b.snapshot()));
  const allBlobs = snapshots.flatMap((s) => [...s.keyGroups]);
  for (const p of [1, 2, 5, 8]) {
    const fresh = Array.from({ length: p }, (_, i) => backendFor(i, p));
    // every new subtask is handed every blob and keeps only its own key groups
    for (const b of fresh) await b.restore(allBlobs);
    assert.equal(fresh.reduce((n, b) => n + b.keyCount(), 0), keys.length, `p=${p}: total key count`);
    for (const key of keys) {
      const owner = ownerOfKeyGroup(keyGroupOf(key, M), p, M);
      fresh.forEach((b, i) => {
        b.setCurrentKey(key);
        const got = b.getValueState<unknown>('v').value();
        if (i === owner) assert.deepEqual(got, value(key), `p=${p} key ${String(key)} in owner ${owner}`);
        else assert.equal(got, undefined, `p=${p} key ${String(key)} also in subtask ${i}`);
      });
    }
  }
});

test('a corrupt blob is a SLUICE_STATE_SNAPSHOT_CORRUPT error naming the key group', async () => {
  const b = backendFor(0, 1);
  fill(b, sampleKeys(200));
  const { keyGroups } = await b.snapshot();
  const [kg, blob] = [...keyGroups][0]!;
  const truncated = blob.subarray(0, blob.length - 3);
  await assert.rejects(backendFor(0, 1).restore([[kg, truncated]]), (e: unknown) =>
    isSluiceError(e, 'SLUICE_STATE_SNAPSHOT_CORRUPT') && e.message.includes(`key group ${kg}`));
  await assert.rejects(backendFor(0, 1).restore([[(kg + 1) % M, blob]]), /header says key group/);
});

test('snapshot yields to the event loop (timers run during a large snapshot)', async () => {
  const b = backendFor(0, 1);
  const v = b.getValueState<number>('v');
  for (let i = 0; i < 200_000; i++) {
    b.setCurrentKey(`key-${i}`);
    v.update(i);
  }
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  await b.snapshot();
  clearInterval(timer);
  assert.ok(ticks > 0, 'an interval fired while the snapshot ran');
});

test('a closed backend lets go of its state and keeps its figures: a runner keeps its last attempt, a service its finished runners', async () => {
  for (const incremental of [false, true]) {
    const backend = new HeapKeyedStateBackend({ maxParallelism: M, range: keyGroupRangeOf(0, 1, M), incremental });
    const counts = backend.getValueState<{ n: number }>('count');
    const held = ((): WeakRef<object> => {
      const value = { n: 1 };
      backend.setCurrentKey('user-1');
      counts.update(value);
      return new WeakRef(value);
    })();
    backend.setCurrentKey('user-2');
    backend.getMapState<string, number>('urls').put('/a', 1);
    backend.registerTimer(10);
    if (incremental) await backend.snapshot(1);
    const figures = backend.metrics();
    assert.deepEqual(figures, { entries: 2, timers: 1 });
    assert.equal(await collectedAfterGc(held), false, `incremental ${incremental}: the open backend holds the value (the check can see it kept)`);
    await backend.close();
    assert.equal(await collectedAfterGc(held), true, `incremental ${incremental}: the closed backend no longer holds the value`);
    assert.deepEqual(backend.metrics(), figures, 'a finished job keeps reporting its last figures');
    await backend.close(); // twice is harmless
    assert.deepEqual(backend.metrics(), figures);
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChainMap } from '../../../runtime/checkpoint/chain-map.ts';
import { HeapKeyedStateBackend, keyGroupOf, keyGroupRangeOf, ownerOfKeyGroup, type KeyedStateBackend } from '../../../runtime/state/index.ts';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';

const M = 16;
const KEYS = 400;

/** A full snapshot of KEYS counters, and how many keys each key group holds. */
async function snapshotOfCounters(): Promise<{ chains: Map<number, Uint8Array>; keysPerGroup: Map<number, number> }> {
  const source = new HeapKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 } });
  await source.restore([]);
  const count = source.getValueState<number>('count');
  const keysPerGroup = new Map<number, number>();
  for (let k = 0; k < KEYS; k++) {
    source.setCurrentKey(`user-${k}`);
    count.update(k);
    const keyGroup = keyGroupOf(`user-${k}`, M);
    keysPerGroup.set(keyGroup, (keysPerGroup.get(keyGroup) ?? 0) + 1);
  }
  const chains = new Map((await source.snapshot()).keyGroups);
  await source.close();
  return { chains, keysPerGroup };
}

/** A map of chains that records each read, and what the restoring backend holds at that moment. */
class ReadRecorder extends Map<number, Uint8Array> {
  readonly reads: Array<{ keyGroup: number; entriesBefore: number }> = [];
  backend: KeyedStateBackend | undefined;

  override get(keyGroup: number): Uint8Array | undefined {
    this.reads.push({ keyGroup, entriesBefore: this.backend?.metrics().entries ?? -1 });
    return super.get(keyGroup);
  }
}

test('the LevelDB backend reads a map of chains one key group at a time, in ascending order, each after the one before it is loaded, and only its own', async () => {
  const { chains, keysPerGroup } = await snapshotOfCounters();
  const range = { start: 3, end: 12 };
  // Inserted in descending order: the backend sorts the numbers, not the map.
  const recorder = new ReadRecorder([...chains].sort((a, b) => b[0] - a[0]));
  const backend = new LevelDbKeyedStateBackend({ maxParallelism: M, range });
  recorder.backend = backend;
  try {
    await backend.restore(recorder, 1);
    const ours = [...chains.keys()].filter((g) => g >= range.start && g <= range.end).sort((a, b) => a - b);
    assert.deepEqual(recorder.reads.map((r) => r.keyGroup), ours, 'only the key groups in range, ascending');
    let loaded = 0;
    for (const read of recorder.reads) {
      assert.equal(read.entriesBefore, loaded, `key group ${read.keyGroup} was read after the ones before it were loaded`);
      loaded += keysPerGroup.get(read.keyGroup)!;
    }
    assert.equal(backend.metrics().entries, loaded);
    const count = backend.getValueState<number>('count');
    for (let k = 0; k < KEYS; k++) {
      const keyGroup = keyGroupOf(`user-${k}`, M);
      if (keyGroup < range.start || keyGroup > range.end) continue;
      backend.setCurrentKey(`user-${k}`);
      assert.equal(count.value(), k);
    }
  } finally {
    await backend.close();
  }
});

test('the heap backend reads only its own key groups from a map of chains', async () => {
  const { chains } = await snapshotOfCounters();
  const range = { start: 0, end: 5 };
  const recorder = new ReadRecorder(chains);
  const backend = new HeapKeyedStateBackend({ maxParallelism: M, range });
  await backend.restore(recorder, 1);
  assert.deepEqual(
    recorder.reads.map((r) => r.keyGroup),
    [...chains.keys()].filter((g) => g <= range.end).sort((a, b) => a - b),
  );
  await backend.close();
});

for (const kind of ['heap', 'leveldb'] as const) {
  test(`subtasks of the ${kind} backend share a read-once checkpoint map at p = 3: each reads its key groups once, and together they restore every key`, async () => {
    const { chains } = await snapshotOfCounters();
    const readOnce = new ChainMap(new Map([...chains].map(([g, chain]) => [g, [() => chain]])), true);
    const backends = [0, 1, 2].map((subtask) => {
      const range = keyGroupRangeOf(subtask, 3, M);
      return kind === 'heap' ? new HeapKeyedStateBackend({ maxParallelism: M, range }) : new LevelDbKeyedStateBackend({ maxParallelism: M, range });
    });
    try {
      for (const backend of backends) await backend.restore(readOnce, 1);
      // Every key is restored by its owner, and no subtask holds more than its own.
      for (let k = 0; k < KEYS; k++) {
        const backend = backends[ownerOfKeyGroup(keyGroupOf(`user-${k}`, M), 3, M)]!;
        backend.setCurrentKey(`user-${k}`);
        assert.equal(backend.getValueState<number>('count').value(), k);
      }
      assert.equal(backends.reduce((sum, backend) => sum + backend.metrics().entries, 0), KEYS);
      // A second read of any key group would restore it twice: the map refuses it.
      assert.throws(() => readOnce.get(0), /read twice/);
    } finally {
      for (const backend of backends) await backend.close();
    }
  });
}

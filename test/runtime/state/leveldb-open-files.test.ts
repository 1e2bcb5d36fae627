import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';
import { canSeeMappings, mappedTableFiles, openTableFiles } from '../../support/mapped-tables.ts';

const KEYS = 50_000;
const VALUE_CHARS = 4096;

/** Key `i`'s value: 4 KiB, so that 50k keys fill ~100 table files of ~2 MiB. */
function valueOf(i: number): string {
  return `k${i}-`.padEnd(VALUE_CHARS, String.fromCharCode(97 + (i % 26)));
}

test('state.maxOpenFiles bounds the table files a working database keeps open (none mapped) while reads miss the cache, restored too', { skip: !canSeeMappings && 'needs /proc/self/maps (Linux)' }, async () => {
  const maxOpenFiles = 74;
  const backend = new LevelDbKeyedStateBackend({ maxParallelism: 8, range: { start: 0, end: 7 }, cacheBytes: 1 << 20, maxOpenFiles });
  await backend.restore([]);
  try {
    const state = backend.getValueState<string>('v');
    for (let i = 0; i < KEYS; i++) {
      backend.setCurrentKey(i);
      state.update(valueOf(i));
    }
    const snapshot = await backend.snapshot(); // a full snapshot reads every key group back: all writes are in LevelDB by now
    await readsAllWithinBound(backend, 'written');

    // A restore writes the working database's table files itself and reopens it: with the same bound.
    const restored = new LevelDbKeyedStateBackend({ maxParallelism: 8, range: { start: 0, end: 7 }, cacheBytes: 1 << 20, maxOpenFiles });
    try {
      await restored.restore(snapshot.keyGroups);
      await readsAllWithinBound(restored, 'restored');
    } finally {
      await restored.close();
    }
  } finally {
    await backend.close();
  }

  async function readsAllWithinBound(from: LevelDbKeyedStateBackend, what: string): Promise<void> {
    const folder = from.directory!;
    const state = from.getValueState<string>('v');
    let mostOpen = 0;
    let mapped = 0;
    for (let i = 0; i < KEYS; i++) {
      from.setCurrentKey(i);
      assert.equal(state.value(), valueOf(i), `${what}: key ${i}`);
      if (i % 1000 === 0) mostOpen = Math.max(mostOpen, openTableFiles(folder).size);
      // Every 200 reads, not every read: a table stays mapped while it is open, and /proc/self/maps is long once the
      // process holds its mmap slots (reading it on every one of 100k reads cost minutes of system time).
      if (i % 200 === 0) mapped += mappedTableFiles(folder).size;
    }
    const tables = (await readdir(folder)).filter((f) => f.endsWith('.ldb')).length;
    assert.ok(tables > maxOpenFiles, `${what}: the test needs more table files (${tables}) than the database may keep open`);
    assert.ok(mostOpen > 0, `${what}: the reads opened no table file: this check would not see one`);
    assert.equal(mapped, 0, `${what}: LevelDB reads tables with pread once the process holds its mmap slots (table-mmap-slots.ts)`);
    // LevelDB's table cache keeps max_open_files - 10 tables open; its one background thread may be writing one more
    // (a compaction or a memtable flush still running from the writes: a full-suite run once saw 65 with a bound of 64).
    assert.ok(mostOpen <= maxOpenFiles - 10 + 1, `${what}: ${mostOpen} table files open at once; LevelDB keeps max_open_files - 10 tables, and writes one more at a time`);
  }
});

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';
import { canSeeMappings, mappedTableFiles } from '../../support/mapped-tables.ts';

const KEYS = 50_000;
const VALUE_CHARS = 4096;

/** Key `i`'s value: 4 KiB, so that 50k keys fill ~100 table files of ~2 MiB. */
function valueOf(i: number): string {
  return `k${i}-`.padEnd(VALUE_CHARS, String.fromCharCode(97 + (i % 26)));
}

test('state.maxOpenFiles bounds the table files a working database keeps open (and mapped) while reads miss the cache', { skip: !canSeeMappings && 'needs /proc/self/maps (Linux)' }, async () => {
  const maxOpenFiles = 74;
  const backend = new LevelDbKeyedStateBackend({ maxParallelism: 8, range: { start: 0, end: 7 }, cacheBytes: 1 << 20, maxOpenFiles });
  await backend.restore([]);
  try {
    const folder = backend.directory!;
    const state = backend.getValueState<string>('v');
    for (let i = 0; i < KEYS; i++) {
      backend.setCurrentKey(i);
      state.update(valueOf(i));
    }
    await backend.snapshot(); // a full snapshot reads every key group back: all writes are in LevelDB by now

    let mostMapped = 0;
    for (let i = 0; i < KEYS; i++) {
      backend.setCurrentKey(i);
      assert.equal(state.value(), valueOf(i), `key ${i}`);
      if (i % 1000 === 0) mostMapped = Math.max(mostMapped, mappedTableFiles(folder).size);
    }
    const tables = (await readdir(folder)).filter((f) => f.endsWith('.ldb')).length;
    assert.ok(tables > maxOpenFiles, `the test needs more table files (${tables}) than the database may keep open`);
    assert.ok(mostMapped > 0, 'the reads mapped no table file: this check would not see one');
    assert.ok(mostMapped <= maxOpenFiles - 10, `${mostMapped} table files mapped at once; LevelDB keeps max_open_files - 10 tables`);
  } finally {
    await backend.close();
  }
});

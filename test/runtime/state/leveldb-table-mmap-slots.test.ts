import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { LEVELDB_MMAP_SLOTS, MMAP_READS_ENV, reserveTableMmapSlots } from '../../../runtime/state/leveldb/table-mmap-slots.ts';
import { canSeeMappings, mappedTableFiles, openTableFiles } from '../../support/mapped-tables.ts';

const KEYS = 20_000;

/** Key i's value: 512 bytes, so 20k keys make ~5 table files of ~2 MiB once compacted. */
function valueOf(i: number): Uint8Array {
  return new Uint8Array(512).fill(i % 251);
}

function keyOf(i: number): Uint8Array {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, i);
  return key;
}

/** Writes KEYS keys to a new database in `dir`, compacts them into table files, and reads each back. */
async function writeAndReadBack(dir: string): Promise<{ open: number; mapped: number }> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view', compression: false });
  await db.open();
  try {
    for (let i = 0; i < KEYS; i += 1000) await db.batch(Array.from({ length: 1000 }, (_, j) => ({ type: 'put' as const, key: keyOf(i + j), value: valueOf(i + j) })));
    await db.compactRange(keyOf(0), keyOf(KEYS));
    for (let i = 0; i < KEYS; i++) assert.equal(Buffer.compare(db.getSync(keyOf(i))!, valueOf(i)), 0, `key ${i}`);
    return { open: openTableFiles(dir).size, mapped: mappedTableFiles(dir).size };
  } finally {
    await db.close();
  }
}

test('once the process holds LevelDB\'s mmap slots, its databases read table files through file descriptors, none mapped', { skip: !canSeeMappings && 'needs /proc/self/maps (Linux)' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-mmap-slots-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The holder's folder of a process killed before it removed it (no process has this id: above Linux's pid_max).
  const abandoned = join(tmpdir(), 'sluice-mmap-slots-4194305-abandoned');
  await mkdir(abandoned, { recursive: true });
  t.after(() => rm(abandoned, { recursive: true, force: true }));
  assert.equal(await reserveTableMmapSlots(), LEVELDB_MMAP_SLOTS, 'the first call, before any LevelDB opened, takes every slot');
  assert.equal(await reserveTableMmapSlots(), LEVELDB_MMAP_SLOTS, 'a second call answers the same reservation');
  const leftovers = (await readdir(tmpdir())).filter((name) => name.startsWith(`sluice-mmap-slots-${process.pid}-`));
  assert.deepEqual(leftovers, [], 'the holder\'s files are removed once mapped (a killed process leaves nothing)');

  for (let tries = 0; existsSync(abandoned) && tries < 500; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(!existsSync(abandoned), 'the folder a killed process left is swept');

  const { open, mapped } = await writeAndReadBack(dir);
  assert.ok(open > 0, 'the reads opened table files: this check would see them');
  assert.equal(mapped, 0);
});

for (const how of ['env', 'call'] as const) {
  const what = how === 'env' ? `${MMAP_READS_ENV}=1` : 'keepMappedTableReads() (a short-lived CLI command)';
  test(`${what} keeps LevelDB's mapped reads`, { skip: !canSeeMappings && 'needs /proc/self/maps (Linux)' }, async (t) => {
    // A process of its own: the slots are one counter per process, taken above in this one.
    const dir = await mkdtemp(join(tmpdir(), 'sluice-mmap-reads-test-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const here = (path: string): string => JSON.stringify(new URL(path, import.meta.url).href);
    const script = `
      import { ClassicLevel } from 'classic-level';
      import { keepMappedTableReads, reserveTableMmapSlots, mappedFilesUnder } from ${here('../../../runtime/state/leveldb/table-mmap-slots.ts')};
      ${how === 'call' ? 'keepMappedTableReads();' : ''}
      const taken = await reserveTableMmapSlots();
      const db = new ClassicLevel(${JSON.stringify(dir)}, { keyEncoding: 'view', valueEncoding: 'view' });
      await db.open();
      await db.batch(Array.from({ length: 1000 }, (_, i) => ({ type: 'put', key: Uint8Array.of(i >> 8, i & 255), value: new Uint8Array(100) })));
      await db.compactRange(Uint8Array.of(0), Uint8Array.of(255));
      db.getSync(Uint8Array.of(0, 1));
      process.stdout.write(JSON.stringify({ taken, mapped: mappedFilesUnder(${JSON.stringify(dir)}).size }));
      await db.close();`;
    const env = { ...process.env };
    if (how === 'env') env[MMAP_READS_ENV] = '1';
    else delete env[MMAP_READS_ENV];
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const { taken, mapped } = JSON.parse(run.stdout) as { taken: number; mapped: number };
    assert.equal(taken, 0, 'no slot taken');
    assert.ok(mapped > 0, 'the database\'s table files are mapped, as LevelDB does by default');
  });
}

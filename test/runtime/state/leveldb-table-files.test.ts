import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClassicLevel } from 'classic-level';
import { SluiceError } from '../../../runtime/errors/index.ts';
import { crc32c, maskedCrc } from '../../../runtime/state/leveldb/table-files/crc32c.ts';
import { manifestBytes, type ManifestTable } from '../../../runtime/state/leveldb/table-files/manifest-file.ts';
import { TableFileBuilder } from '../../../runtime/state/leveldb/table-files/table-file-builder.ts';
import { slicedMergeSort } from '../../../runtime/state/leveldb/table-files/sliced-merge-sort.ts';
import { levelFor, TableLoad } from '../../../runtime/state/leveldb/table-files/table-load.ts';
import { TimeSlicer } from '../../../runtime/state/time-slicer.ts';
import { countEventLoopTurns } from '../../support/event-loop-turns.ts';

type Db = ClassicLevel<Uint8Array, Uint8Array>;

const openDb = async (directory: string): Promise<Db> => {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(directory, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: false, compression: false });
  await db.open();
  return db;
};

/** A working-database key: [key group u16][state id u16] then `text`'s bytes. */
function keyOf(keyGroup: number, text: string): Buffer {
  return Buffer.from([keyGroup >>> 8, keyGroup & 0xff, 0, 1, ...Buffer.from(text, 'latin1')]);
}

async function withFolder(run: (directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'sluice-table-files-'));
  try {
    await run(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** Loads `entries` (in the order given) with a TableLoad into `directory` and opens the database it leaves. */
async function load(directory: string, entries: ReadonlyArray<[Uint8Array, Uint8Array]>): Promise<Db> {
  let db: Db | undefined;
  const tables = new TableLoad(directory, async () => void (db = await openDb(directory)), (err) => new SluiceError('SLUICE_STATE_BACKEND_IO', String(err)));
  const slicer = new TimeSlicer();
  for (const [i, [key, value]] of entries.entries()) {
    const keyGroup = (key[0]! << 8) | key[1]!;
    if (i > 0 && keyGroup !== ((entries[i - 1]![0][0]! << 8) | entries[i - 1]![0][1]!)) await tables.endKeyGroup(slicer);
    tables.put(key, value);
    if (i % 1000 === 0) await tables.settle();
  }
  await tables.finish();
  return db!;
}

test('CRC-32C agrees with the standard check values at any alignment, and masks as LevelDB does', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
  const byteWise = (from: number, to: number): number => {
    let c = ~0;
    for (let i = from; i < to; i++) {
      c ^= bytes[i]!;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    }
    return ~c >>> 0;
  };
  for (const [from, to] of [[0, 1000], [1, 999], [3, 517], [5, 506], [7, 500]] as const) {
    assert.equal(crc32c(bytes, from, to), byteWise(from, to), `bytes [${from}, ${to})`);
    assert.equal(crc32c(bytes, 500, to, crc32c(bytes, from, 500)), byteWise(from, to), `extended at 500, [${from}, ${to})`);
  }
  for (const [from, to] of [[3, 17], [5, 6], [7, 7]] as const) assert.equal(crc32c(bytes, from, to), byteWise(from, to), `bytes [${from}, ${to})`);
  // LevelDB's crc32c_test: Unmask(Mask(crc)) == crc; Mask(crc) != crc. The mask is a rotation plus a constant.
  const crc = crc32c(Buffer.from('foo'));
  assert.notEqual(maskedCrc(crc), crc);
  const rotated = (maskedCrc(crc) - 0xa282ead8) >>> 0;
  assert.equal(((rotated >>> 17) | (rotated << 15)) >>> 0, crc);
});

test('LevelDB opens a database loaded as table files and reads every key in order, by iteration and by get', async () => {
  await withFolder(async (directory) => {
    // ~150k keys over 3 key groups: several table files of ~2 MiB, many blocks, values up to 120 bytes.
    const entries: Array<[Uint8Array, Uint8Array]> = [];
    for (const keyGroup of [0, 7, 300])
      for (let i = 0; i < 50_000; i++) entries.push([keyOf(keyGroup, `k${String(i).padStart(6, '0')}`), Buffer.from(`v${keyGroup}/${i}`.repeat(1 + (i % 10)))]);
    const db = await load(directory, entries);
    try {
      assert.ok((await readdir(directory)).filter((f) => f.endsWith('.ldb')).length >= 3, 'more than one table file');
      let n = 0;
      for await (const [key, value] of db.iterator()) {
        assert.deepEqual([key, value], [entries[n]![0], entries[n]![1]], `entry ${n}`);
        n++;
      }
      assert.equal(n, entries.length);
      // A get goes through each table's index and Bloom filter: a wrong filter would hide keys.
      for (const [key, value] of entries) assert.deepEqual(db.getSync(key), value);
      assert.equal(db.getSync(keyOf(7, 'k0000005')), undefined, 'a key between two stored keys');
      assert.equal(db.getSync(keyOf(8, 'k000005')), undefined, 'a key group that has no keys');

      // Later writes win over loaded keys, and survive a reopen and a full compaction.
      await db.put(entries[5]![0], Buffer.from('new'));
      await db.del(entries[6]![0]);
      await db.close();
      const again = await openDb(directory);
      try {
        await again.compactRange(keyOf(0, ''), keyOf(301, ''));
        assert.deepEqual(again.getSync(entries[5]![0]), Buffer.from('new'));
        assert.equal(again.getSync(entries[6]![0]), undefined);
        let left = 0;
        for await (const _ of again.keys()) left++;
        assert.equal(left, entries.length - 1);
      } finally {
        await again.close();
      }
    } finally {
      if (db.status === 'open') await db.close();
    }
  });
});

test('a key group whose puts come out of order is sorted, and of equal keys the last put wins', async () => {
  await withFolder(async (directory) => {
    const shuffled = Array.from({ length: 5000 }, (_, i) => (i * 2713) % 5000);
    const entries: Array<[Uint8Array, Uint8Array]> = shuffled.map((i) => [keyOf(4, `key-${i}`), Buffer.from(`first ${i}`)]);
    for (let i = 0; i < 5000; i += 3) entries.push([keyOf(4, `key-${i}`), Buffer.from(`second ${i}`)]);
    entries.push([keyOf(5, 'a'), Buffer.from('group 5')]);
    const db = await load(directory, entries);
    try {
      const got: string[] = [];
      for await (const [key, value] of db.iterator({ lt: keyOf(5, '') })) got.push(`${Buffer.from(key.subarray(4)).toString()}=${Buffer.from(value).toString()}`);
      const expected = Array.from({ length: 5000 }, (_, i) => `key-${i}`)
        .sort()
        .map((k) => `${k}=${Number(k.slice(4)) % 3 === 0 ? 'second' : 'first'} ${k.slice(4)}`);
      assert.deepEqual(got, expected);
      assert.deepEqual(db.getSync(keyOf(5, 'a')), Buffer.from('group 5'));
    } finally {
      await db.close();
    }
  });
});

test('a key group loaded before the last one ended, or after a higher one, is refused: the files would overlap', async () => {
  await withFolder(async (directory) => {
    const tables = new TableLoad(directory, async () => {}, (err) => new SluiceError('SLUICE_STATE_BACKEND_IO', String(err)));
    tables.put(keyOf(9, 'a'), Buffer.from('x'));
    assert.throws(() => tables.put(keyOf(10, 'a'), Buffer.from('y')), { code: 'SLUICE_INTERNAL', message: /before it ended key group 9/ });
    await tables.endKeyGroup(new TimeSlicer());
    assert.throws(() => tables.put(keyOf(3, 'a'), Buffer.from('y')), { code: 'SLUICE_INTERNAL', message: /key group 3 after key group 9/ });
    await tables.abandon();
  });
});

test("a table's Bloom filter is the one LevelDB reads: with its bits cleared, gets no longer find the keys", async () => {
  await withFolder(async (directory) => {
    const builder = new TableFileBuilder(1 << 16);
    const keys = Array.from({ length: 200 }, (_, i) => keyOf(1, `user-${String(i).padStart(3, '0')}`));
    for (const key of keys) builder.add(key, 0, key.length, Buffer.from('v'), 0, 1);
    const table = builder.finish();
    const write = async (bytes: Uint8Array): Promise<void> => {
      await writeFile(join(directory, '000002.ldb'), bytes);
      await writeFile(join(directory, 'MANIFEST-000001'), manifestBytes([{ number: 2, size: bytes.length, smallest: table.smallest, largest: table.largest }], 1, 3));
      await writeFile(join(directory, 'CURRENT'), 'MANIFEST-000001\n');
    };
    await write(table.bytes);
    let db = await openDb(directory);
    for (const key of keys) assert.deepEqual(db.getSync(key), Buffer.from('v'));
    await db.close();
    // The metaindex names the filter block: find it through the footer and clear its bits (not its trailer).
    const bytes = new Uint8Array(await readFile(join(directory, '000002.ldb')));
    const [filterOffset, filterSize] = filterHandle(bytes);
    bytes.fill(0, filterOffset, filterOffset + filterSize - 5); // keep the filter offsets and the base's log
    await rm(directory, { recursive: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(directory));
    await write(bytes);
    db = await openDb(directory);
    try {
      const found = keys.filter((key) => db.getSync(key) !== undefined).length;
      assert.equal(found, 0, 'every key is behind a filter that now says no');
      let iterated = 0;
      for await (const _ of db.keys()) iterated++;
      assert.equal(iterated, keys.length, 'iteration does not use filters: the data is still there');
    } finally {
      await db.close();
    }
  });
});

test('a manifest larger than a 32 KiB log block is split into fragments LevelDB reassembles', async () => {
  await withFolder(async (directory) => {
    const tables: ManifestTable[] = [];
    // 400 one-key tables with 200-byte keys: each NewFile entry ~420 bytes, ~170 KiB in all.
    for (let i = 0; i < 400; i++) {
      const key = keyOf(2, `${String(i).padStart(4, '0')}`.padEnd(200, 'x'));
      const builder = new TableFileBuilder(4096);
      builder.add(key, 0, key.length, Buffer.from(String(i)), 0, String(i).length);
      const table = builder.finish();
      await writeFile(join(directory, `${String(i + 2).padStart(6, '0')}.ldb`), table.bytes);
      tables.push({ number: i + 2, size: table.bytes.length, smallest: table.smallest, largest: table.largest });
    }
    const manifest = manifestBytes(tables, 2, 402);
    assert.ok(manifest.length > 4 * 32768);
    await writeFile(join(directory, 'MANIFEST-000001'), manifest);
    await writeFile(join(directory, 'CURRENT'), 'MANIFEST-000001\n');
    const db = await openDb(directory);
    try {
      let n = 0;
      for await (const [, value] of db.iterator()) assert.equal(Buffer.from(value).toString(), String(n++));
      assert.equal(n, 400);
    } finally {
      await db.close();
    }
    // A damaged manifest is refused by LevelDB's checks (its CRCs are real ones). LevelDB wrote a manifest of its own
    // when it opened the database: point CURRENT back at ours.
    manifest[40] ^= 0xff;
    await writeFile(join(directory, 'MANIFEST-000001'), manifest);
    await writeFile(join(directory, 'CURRENT'), 'MANIFEST-000001\n');
    await assert.rejects(openDb(directory));
  });
});

test('the sliced merge sort orders any length stably, as Array.prototype.sort does', async () => {
  for (const n of [0, 1, 2, 31, 32, 33, 64, 65, 1000, 100_003]) {
    const values = Array.from({ length: n }, (_, i) => (Math.imul(i + 1, 2654435761) >>> 0) % Math.max(1, n >> 2)); // many ties
    const expected = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
    const sorted = await slicedMergeSort(n, (a, b) => values[a]! - values[b]!, new TimeSlicer());
    assert.deepEqual([...sorted], expected, `n = ${n}`);
  }
});

test('a large key group out of order is sorted and written in slices: the event loop turns meanwhile', async () => {
  await withFolder(async (directory) => {
    let db: Db | undefined;
    const tables = new TableLoad(directory, async () => void (db = await openDb(directory)), (err) => new SluiceError('SLUICE_STATE_BACKEND_IO', String(err)));
    const n = 200_000;
    for (let i = 0; i < n; i++) tables.put(keyOf(3, `k${(i * 7919) % n}`), Buffer.from(String(i)));
    const counter = countEventLoopTurns();
    await tables.endKeyGroup(new TimeSlicer(0)); // a zero slice: yields at every look at the clock
    const turns = counter.stop();
    await tables.finish();
    try {
      assert.ok(turns > 10, `the event loop turned ${turns} times while the key group was sorted and written`);
      let keys = 0;
      let last = Buffer.alloc(0);
      for await (const key of db!.keys()) {
        assert.ok(Buffer.compare(Buffer.from(key), last) > 0, 'keys ascend');
        last = Buffer.from(key);
        keys++;
      }
      assert.equal(keys, n);
    } finally {
      await db!.close();
    }
  });
});

test('tables go to the lowest level LevelDB would not compact at once', () => {
  assert.equal(levelFor(0), 1);
  assert.equal(levelFor(9 * 2 ** 20), 1);
  assert.equal(levelFor(11 * 2 ** 20), 2);
  assert.equal(levelFor(300 * 2 ** 20), 3);
  assert.equal(levelFor(5 * 2 ** 30), 4);
  assert.equal(levelFor(2 ** 50), 6);
});

test('a table file that cannot be written fails the load with the backend I/O error', async () => {
  const missing = join(tmpdir(), `sluice-no-such-folder-${process.pid}`);
  const tables = new TableLoad(missing, async () => {}, (err) => new SluiceError('SLUICE_STATE_BACKEND_IO', `cannot write: ${(err as Error).message}`));
  for (let i = 0; i < 100_000; i++) tables.put(keyOf(1, `k${String(i).padStart(6, '0')}`), Buffer.from('value-of-some-length'));
  await assert.rejects(tables.finish(), { code: 'SLUICE_STATE_BACKEND_IO', message: /cannot write: .*ENOENT/ });
});

/** [offset, size + trailer] of the filter block, through the footer's metaindex handle. */
function filterHandle(table: Uint8Array): [number, number] {
  let at = table.length - 48;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = table[at++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  };
  const metaOffset = varint();
  varint();
  // The metaindex holds one entry: shared 0, key length, value length, key, then the handle.
  at = metaOffset;
  varint();
  const keyLength = varint();
  varint();
  at += keyLength;
  const offset = varint();
  const size = varint();
  return [offset, size + 5];
}

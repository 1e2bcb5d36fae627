import { readFileSync } from 'node:fs';
import { link, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { ClassicLevel } from 'classic-level';
import { removeAbandonedDirectories } from '../../support/abandoned-directories.ts';
import { manifestBytes, type ManifestTable } from './table-files/manifest-file.ts';
import { internalKey, TableFileBuilder } from './table-files/table-file-builder.ts';

/**
 * How many table files LevelDB 1.20 memory-maps at once in a process: `MaxMmaps()` in its `util/env_posix.cc`, a
 * constant for 64-bit builds that classic-level gives no way to change.
 */
export const LEVELDB_MMAP_SLOTS = 1000;

/** Set to `1` to keep LevelDB's memory-mapped table reads (see {@link reserveTableMmapSlots}). */
export const MMAP_READS_ENV = 'SLUICE_LEVELDB_MMAP_READS';

/**
 * LevelDB's table cache is an LRU cache of 16 shards, each a sixteenth of `max_open_files` less 10: with room for
 * only the slots, tables hashed to a full shard would be dropped (and their slots given back). Four times as much
 * keeps every shard far from full.
 */
const HOLDER_OPEN_FILES = 4 * LEVELDB_MMAP_SLOTS;
/** Name prefix of the holder's folder in the OS temp folder: `sluice-mmap-slots-<pid>-<random>`. */
const HOLDER_PREFIX = 'sluice-mmap-slots-';
/** Links made at once while the holder is built. */
const LINKS_AT_ONCE = 64;

let reservation: Promise<number> | undefined;
/** The database holding the slots: it must stay open, and referenced (not collected), for the process's life. */
const holders: Array<ClassicLevel<Uint8Array, Uint8Array>> = [];

/**
 * For a short-lived process (a CLI command that opens a checkpoint store, lists it and exits): skip
 * {@link reserveTableMmapSlots}, whose ~100 ms would be most of the command's own time, and keep LevelDB's mapped
 * reads, whose pages leave with the process. Call before anything opens a LevelDB; a reservation already made stays.
 *
 * @example
 * ```ts
 * keepMappedTableReads();
 * const store = await CheckpointStore.open(dataDir); // no slots taken
 * ```
 */
export function keepMappedTableReads(): void {
  reservation ??= Promise.resolve(0);
}

/**
 * Makes this process's LevelDB databases read their table files with `pread` into LevelDB's block cache instead of
 * memory-mapping them, so that the pages they read are the kernel's page cache, not the process's resident memory.
 *
 * Why: LevelDB 1.20 (bundled by classic-level) maps every table file it opens, up to 1,000 per process, and each
 * page a read touches stays in the process's RSS for as long as the table is open. A 10M-key job on the LevelDB
 * state backend showed ~350–480 MiB of RSS that were its working database's tables, and the checkpoint store added
 * up to 110 MiB; RSS then says nothing about the memory the job holds. RocksDB, Flink's state store, reads with `pread`
 * by default too (`use_mmap_reads` is off). The limit is one counter for the whole process, taken when a table is opened and
 * given back when it is closed, so this takes every slot at once: it writes a database of 1,000 empty table
 * files, opens them all (an iteration over the database puts each in LevelDB's table cache, mapped), and keeps that
 * database open. The files are removed at once (the mappings stay valid and hold one page each), so a killed
 * process leaves nothing behind. Every table opened afterwards, in any database of the process, is read with
 * `pread`.
 *
 * The trade: a read that misses LevelDB's block cache is a system call and a copy, ~2 µs more than reading a
 * mapped page (measured on a 2M-key database in the page cache: 6.2 against 4.0 µs a `getSync`).
 *
 * Call before the process opens any LevelDB: slots already held by open tables are left to them (and are taken by
 * whichever table opens next once given back). Idempotent; answers the slots taken (the holder's mapped tables). Does nothing (answers 0) on a
 * worker thread (the main thread's call covers the process), off Linux, or when the environment variable
 * `SLUICE_LEVELDB_MMAP_READS=1` asks for LevelDB's mapped reads (faster misses, more RSS). If the holder cannot be
 * built (no writable temporary folder), LevelDB keeps its mapped reads, which are correct, only larger in RSS.
 *
 * @example
 * ```ts
 * await reserveTableMmapSlots();
 * const db = new ClassicLevel(location); // its tables are read with pread
 * ```
 */
export function reserveTableMmapSlots(): Promise<number> {
  if (!isMainThread || process.platform !== 'linux' || process.env[MMAP_READS_ENV] === '1') return Promise.resolve(0);
  return (reservation ??= takeSlots().catch(() => 0));
}

async function takeSlots(): Promise<number> {
  // A process killed in the ~100 ms between writing the holder and removing it leaves its folder: sweep those.
  void removeAbandonedDirectories(tmpdir(), HOLDER_PREFIX).catch(() => undefined);
  const directory = await mkdtemp(join(tmpdir(), `${HOLDER_PREFIX}${process.pid}-`));
  try {
    await writeTables(directory);
    const db = new ClassicLevel<Uint8Array, Uint8Array>(directory, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: false, maxOpenFiles: HOLDER_OPEN_FILES });
    await db.open();
    holders.push(db);
    // An iteration opens every table it passes (each stays in the table cache: mapped, if a slot was free); the
    // tables are empty, so it finds no key.
    for await (const key of db.keys()) throw new Error(`the mmap slots' holder has a key (${key.length} bytes)`);
    return mappedFilesUnder(directory).size;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/**
 * Writes the holder's database: {@link LEVELDB_MMAP_SLOTS} table files and a manifest that lists them at level 1,
 * file i for the keys from i to i (two bytes each), so they do not overlap and hold a few bytes in all, far under the
 * 10 MiB that would make LevelDB compact them. The tables are empty, so one file serves for all: the others are hard
 * links to it (writing 1,000 files took 0.3–0.7 s of system time on ext4; linking them takes ~30 ms).
 */
async function writeTables(directory: string): Promise<void> {
  const name = (number: number): string => join(directory, `${String(number).padStart(6, '0')}.ldb`);
  const bytes = new TableFileBuilder(256).finishEmpty();
  const tables: ManifestTable[] = [];
  const links: Promise<void>[] = [];
  for (let i = 0; i < LEVELDB_MMAP_SLOTS; i++) {
    const key = new Uint8Array([i >> 8, i & 0xff]);
    const number = i + 2;
    tables.push({ number, size: bytes.length, smallest: internalKey(key, 0, key.length), largest: internalKey(key, 0, key.length) });
    if (i === 0) await writeFile(name(number), bytes);
    else links.push(link(name(2), name(number)));
    if (links.length === LINKS_AT_ONCE) await Promise.all(links.splice(0));
  }
  await Promise.all(links);
  await writeFile(join(directory, 'MANIFEST-000001'), manifestBytes(tables, 1, LEVELDB_MMAP_SLOTS + 2));
  await writeFile(join(directory, 'CURRENT'), 'MANIFEST-000001\n');
}

/**
 * The files under `directory` this process has memory-mapped right now, by path (`/proc/self/maps`; Linux only).
 * @internal
 */
export function mappedFilesUnder(directory: string): Set<string> {
  const files = new Set<string>();
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const at = line.indexOf(`${directory}/`);
    if (at >= 0) files.add(line.slice(at));
  }
  return files;
}

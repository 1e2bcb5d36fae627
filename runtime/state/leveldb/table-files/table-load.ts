import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SluiceError } from '../../../errors/index.ts';
import { compareBytes } from '../key-order.ts';
import { ScratchBytes } from '../scratch-bytes.ts';
import { KEY_PREFIX_BYTES, keyGroupOf, writeKeyPrefix } from '../stored-bytes.ts';
import { TimeSlicer } from '../../time-slicer.ts';
import { slicedMergeSort } from './sliced-merge-sort.ts';
import { manifestBytes, type ManifestTable } from './manifest-file.ts';
import { TableFileBuilder } from './table-file-builder.ts';

/** Table files of ~2 MiB, LevelDB's own `max_file_size`: later compactions then work on files of their usual size. */
const TABLE_BYTES = 2 * 1024 * 1024;
/** Table files being written before {@link TableLoad.settle} waits for the oldest. */
const MAX_WRITES_IN_FLIGHT = 4;
/** The manifest's file number; tables are numbered after it. */
const MANIFEST_NUMBER = 1;
/** Keys added to tables between two looks at the clock (a power of two). */
const ADDED_PER_CHECK = 4096;

/**
 * A restore's state written as LevelDB table files, with a manifest that lists them, into the folder of a new
 * working database that is closed meanwhile; {@link finish} then opens it. This is what Flink's RocksDB backend gets
 * by ingesting files: the state goes to disk once, in order, instead of through LevelDB's write-ahead log, memtable
 * and compactions. Measured on a 10M-key restore: LevelDB's batches took ~2.5 s of the thread's time in `put` and
 * kept it waiting ~1.7 s for LevelDB's writer; building the tables costs ~150 ns a key.
 *
 * Key groups must come in ascending order (the first two bytes of every key are its key group), each ended by
 * {@link endKeyGroup}. Within a key group, puts are collected and, unless they came in ascending order (as the
 * LevelDB backend's own checkpoints give them), sorted; of equal keys the last put wins. Sorting and writing are
 * time-sliced, so a large key group does not hold the event loop. One key group's state is held in memory at a time
 * (its chain is, anyway, while it is folded).
 *
 * The caller fills the scratch arrays {@link key} and {@link value} for every entry instead of allocating two per
 * entry (garbage for every key of the restore); {@link put} copies them. A full blob's packed pairs skip even
 * that: {@link putPacked} copies them from the blob once.
 *
 * All tables go to one level, the lowest at which LevelDB would not start compacting them (L1 holds 10 MiB, each
 * level ten times the one above): they do not overlap, and every key has sequence number 0, so any later write wins.
 * @internal
 */
export class TableLoad {
  readonly #directory: string;
  readonly #fail: (err: unknown) => SluiceError;
  readonly #open: () => Promise<void>;
  readonly #keys = new ScratchBytes(1024);
  readonly #values = new ScratchBytes(64 * 1024);
  /** The current key group's puts: their bytes, and for entry i its key start, key end and value end. */
  #arena: Uint8Array = new Uint8Array(1024 * 1024);
  #arenaSize = 0;
  #bounds: Int32Array = new Int32Array(3 * 4096);
  #entries = 0;
  #ascending = true;
  #keyGroup = -1;
  #builder: TableFileBuilder | undefined;
  readonly #tables: ManifestTable[] = [];
  #nextNumber = MANIFEST_NUMBER + 1;
  readonly #inFlight: Promise<void>[] = [];
  #failure: SluiceError | undefined;

  /**
   * `directory` is the working database's folder, empty; `open` opens the database there once the files are in
   * place; `fail` turns a write's error into the store's error.
   */
  constructor(directory: string, open: () => Promise<void>, fail: (err: unknown) => SluiceError) {
    this.#directory = directory;
    this.#open = open;
    this.#fail = fail;
  }

  /** An array of `length` bytes for the next key, valid until the next {@link put}. */
  key(length: number): Uint8Array {
    return this.#keys.of(length);
  }

  /** An array of `length` bytes for the next value, valid until the next {@link put}. */
  value(length: number): Uint8Array {
    return this.#values.of(length);
  }

  /** Adds `key` = `value` (copied). Keys start with their key group, which may not go down; a later equal key wins. */
  put(key: Uint8Array, value: Uint8Array): void {
    const start = this.#reserve(keyGroupOf(key), key.length + value.length);
    this.#arena.set(key, start);
    this.#arena.set(value, start + key.length);
    this.#added(start, key.length, value.length);
  }

  /**
   * Adds the key `[keyGroup: u16][stateId: u16]` + `keyBytes[ks, ke)` = `valueBytes[vs, ve)`, as {@link put} does,
   * copying the bytes once (a full blob's packed pairs, the bulk of most restores).
   */
  putPacked(keyGroup: number, stateId: number, keyBytes: Uint8Array, ks: number, ke: number, valueBytes: Uint8Array, vs: number, ve: number): void {
    const keyLength = KEY_PREFIX_BYTES + ke - ks;
    const start = this.#reserve(keyGroup, keyLength + ve - vs);
    const arena = this.#arena;
    writeKeyPrefix(arena, start, keyGroup, stateId);
    let at = start + KEY_PREFIX_BYTES;
    for (let i = ks; i < ke; i++) arena[at++] = keyBytes[i]!;
    if (ve - vs > 32) arena.set(valueBytes.subarray(vs, ve), at);
    else for (let i = vs; i < ve; i++) arena[at++] = valueBytes[i]!;
    this.#added(start, keyLength, ve - vs);
  }

  /** Starts a put of `bytes` in `keyGroup`: returns where its bytes go in the arena. */
  #reserve(keyGroup: number, bytes: number): number {
    if (this.#failure !== undefined) throw this.#failure;
    if (keyGroup !== this.#keyGroup) {
      if (this.#entries > 0) {
        throw new SluiceError('SLUICE_INTERNAL', `a restore put key group ${keyGroup} before it ended key group ${this.#keyGroup} (endKeyGroup)`, { retriable: false });
      }
      if (keyGroup < this.#keyGroup) {
        throw new SluiceError('SLUICE_INTERNAL', `a restore loaded key group ${keyGroup} after key group ${this.#keyGroup}: key groups must come in ascending order`, {
          retriable: false,
        });
      }
      this.#keyGroup = keyGroup;
    }
    if (3 * this.#entries + 3 > this.#bounds.length) this.#bounds = grownInt32(this.#bounds);
    if (this.#arenaSize + bytes > this.#arena.length) this.#arena = grownBytes(this.#arena, this.#arenaSize + bytes);
    return this.#arenaSize;
  }

  /** Ends a put whose bytes are in the arena at `start`. */
  #added(start: number, keyLength: number, valueLength: number): void {
    const entry = this.#entries;
    const bounds = this.#bounds;
    bounds[3 * entry] = start;
    bounds[3 * entry + 1] = start + keyLength;
    bounds[3 * entry + 2] = start + keyLength + valueLength;
    if (this.#ascending && entry > 0 && compareEntries(this.#arena, bounds, entry - 1, entry) >= 0) this.#ascending = false;
    this.#arenaSize = start + keyLength + valueLength;
    this.#entries = entry + 1;
  }

  /** Waits while more than a few table files are being written (bounds the memory held); call now and then. */
  async settle(): Promise<void> {
    while (this.#inFlight.length >= MAX_WRITES_IN_FLIGHT) await this.#inFlight[0];
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Writes what is left, then the manifest, and opens the database. */
  async finish(): Promise<void> {
    await this.endKeyGroup(new TimeSlicer());
    if (this.#builder !== undefined && this.#builder.entries > 0) this.#cutTable();
    while (this.#inFlight.length > 0) await this.#inFlight[0];
    if (this.#failure !== undefined) throw this.#failure;
    const total = this.#tables.reduce((sum, table) => sum + table.size, 0);
    try {
      await writeFile(join(this.#directory, manifestName()), manifestBytes(this.#tables, levelFor(total), this.#nextNumber));
      await writeFile(join(this.#directory, 'CURRENT'), `${manifestName()}\n`);
    } catch (err) {
      throw (this.#failure ??= this.#fail(err));
    }
    await this.#open();
  }

  /** After a failed restore: drops what is not written and waits for the writes in flight. */
  async abandon(): Promise<void> {
    this.#entries = 0;
    this.#builder = undefined;
    while (this.#inFlight.length > 0) await this.#inFlight[0];
  }

  /**
   * Writes the current key group's entries to tables, sorted (stably: of equal keys the last put stays), in slices
   * that `slicer` bounds; the next key group's puts may follow.
   */
  async endKeyGroup(slicer: TimeSlicer): Promise<void> {
    const n = this.#entries;
    if (n === 0) return;
    const arena = this.#arena;
    const bounds = this.#bounds;
    let order: Int32Array | undefined;
    if (!this.#ascending) {
      const sorted = await slicedMergeSort(n, (a, b) => compareEntries(arena, bounds, a, b), slicer);
      // Of a run of equal keys, only the last put is kept.
      let kept = 0;
      for (let i = 0; i < n; i++) if (i + 1 === n || compareEntries(arena, bounds, sorted[i]!, sorted[i + 1]!) !== 0) sorted[kept++] = sorted[i]!;
      order = sorted.subarray(0, kept);
    }
    const count = order === undefined ? n : order.length;
    for (let i = 0; i < count; i++) {
      const e = order === undefined ? i : order[i]!;
      const builder = (this.#builder ??= new TableFileBuilder(TABLE_BYTES + TABLE_BYTES / 2));
      builder.add(arena, bounds[3 * e]!, bounds[3 * e + 1]!, arena, bounds[3 * e + 1]!, bounds[3 * e + 2]!);
      if (builder.size >= TABLE_BYTES) this.#cutTable();
      if ((i & (ADDED_PER_CHECK - 1)) === ADDED_PER_CHECK - 1) {
        await this.settle();
        await slicer.maybeYield();
      }
    }
    this.#entries = 0;
    this.#arenaSize = 0;
    this.#ascending = true;
  }

  #cutTable(): void {
    const table = this.#builder!.finish();
    this.#builder = undefined;
    const number = this.#nextNumber++;
    this.#tables.push({ number, size: table.bytes.length, smallest: table.smallest, largest: table.largest });
    const write = writeFile(join(this.#directory, `${String(number).padStart(6, '0')}.ldb`), table.bytes).then(
      () => undefined,
      (err: unknown) => void (this.#failure ??= this.#fail(err)),
    );
    const tracked: Promise<void> = write.finally(() => this.#inFlight.splice(this.#inFlight.indexOf(tracked), 1));
    this.#inFlight.push(tracked);
  }
}

function manifestName(): string {
  return `MANIFEST-${String(MANIFEST_NUMBER).padStart(6, '0')}`;
}

/**
 * The lowest level (1–6) whose size limit `bytes` stays under, so LevelDB does not compact the new tables at once
 * (`VersionSet::Finalize` scores levels 1–5 by bytes over 10 MiB × 10^(level − 1); level 6 is never scored).
 */
export function levelFor(bytes: number): number {
  let limit = 10 * 1048576;
  for (let level = 1; level <= 5; level++, limit *= 10) if (bytes < limit) return level;
  return 6;
}

/** Byte order of entry a's key against entry b's. */
function compareEntries(arena: Uint8Array, bounds: Int32Array, a: number, b: number): number {
  return compareBytes(arena, bounds[3 * a]!, bounds[3 * a + 1]!, bounds[3 * b]!, bounds[3 * b + 1]!);
}

function grownBytes(bytes: Uint8Array, atLeast: number): Uint8Array {
  const grown = new Uint8Array(Math.max(bytes.length * 2, atLeast));
  grown.set(bytes);
  return grown;
}

function grownInt32(values: Int32Array): Int32Array {
  const grown = new Int32Array(values.length * 2);
  grown.set(values);
  return grown;
}

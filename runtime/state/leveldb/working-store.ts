import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { SluiceError } from '../../errors/index.ts';
import { removeAbandonedDirectories } from '../../support/abandoned-directories.ts';
import { StateErrorCodes } from '../state-errors.ts';
import { TableLoad } from './table-files/table-load.ts';
import { reserveTableMmapSlots } from './table-mmap-slots.ts';

/** One write to the working database: `value` undefined deletes `key`. @internal */
export interface WriteOp {
  readonly key: Uint8Array;
  readonly value: Uint8Array | undefined;
}

/**
 * Writes per LevelDB batch. Measured (classic-level 3, sorted 16-byte keys, small values): chained batches of 10,000
 * puts ~650k keys/s, arrays of 1,000 operation objects ~440k keys/s. Larger batches gain little and hold more
 * memory in flight.
 */
const BATCH_OPS = 8192;

/**
 * LevelDB's `max_open_files` for a working database unless the job sets `state.maxOpenFiles`: LevelDB's own default.
 * Each open table holds a file descriptor and its index and filter; its pages are read, not mapped (see
 * table-mmap-slots.ts). Fewer open files bound that, but then a cache miss often reopens a table
 * (docs/state-backends.md).
 */
export const DEFAULT_MAX_OPEN_FILES = 1000;

/** Folders this process has already swept for abandoned working databases. */
const swept = new Set<string>();

/** Name prefix of working databases: `sluice-state-<pid>-<random>` (so folders of dead processes can be found). */
export const WORKING_DIRECTORY_PREFIX = 'sluice-state-';

/**
 * The working LevelDB of one LevelDB state backend: a private folder per backend (job, attempt, operator and
 * subtask), created empty when the backend opens and removed when it closes. It holds the state itself, not a
 * checkpoint: checkpoints are written to the checkpoint store, so the folder is disposable (a restart restores
 * from the checkpoint into a new one).
 *
 * Reads are synchronous (`getSync`: state handles are synchronous); writes are queued and written in batches, one
 * batch in flight at a time, so that they reach the database in the order they were queued. A caller that reads a
 * key with a queued write must look in its own overlay first (the backend keeps one per state).
 * @internal
 */
export class WorkingStore {
  readonly directory: string;
  #db: ClassicLevel<Uint8Array, Uint8Array>;
  readonly #maxOpenFiles: number;
  readonly #onWritten: (ops: readonly WriteOp[]) => void;
  /** Nothing was written yet: a restore may still load the database. */
  #empty = true;
  #queued: WriteOp[] = [];
  #inFlight: Promise<void> | undefined;
  #failure: SluiceError | undefined;
  #closed = false;

  private constructor(directory: string, db: ClassicLevel<Uint8Array, Uint8Array>, maxOpenFiles: number, onWritten: (ops: readonly WriteOp[]) => void) {
    this.directory = directory;
    this.#db = db;
    this.#maxOpenFiles = maxOpenFiles;
    this.#onWritten = onWritten;
  }

  /**
   * Creates and opens a new working database in a fresh folder under `parent`. `onWritten` is called with each
   * batch once LevelDB has it (the caller drops those keys from its overlay).
   */
  static async open(parent: string, onWritten: (ops: readonly WriteOp[]) => void, maxOpenFiles = DEFAULT_MAX_OPEN_FILES): Promise<WorkingStore> {
    let directory: string | undefined;
    try {
      await mkdir(parent, { recursive: true });
      // Folders of killed processes (kill -9 cannot clean up): the state of a killed attempt is in its checkpoint.
      // Once per folder and process: every operator subtask of every attempt opens a store here.
      if (!swept.has(parent)) {
        swept.add(parent);
        void removeAbandonedDirectories(parent, WORKING_DIRECTORY_PREFIX).catch(() => undefined);
      }
      directory = await mkdtemp(join(parent, `${WORKING_DIRECTORY_PREFIX}${process.pid}-`));
      const db = await openDatabase(directory, maxOpenFiles);
      return new WorkingStore(directory, db, maxOpenFiles, onWritten);
    } catch (err) {
      if (directory !== undefined) await rm(directory, { recursive: true, force: true }).catch(() => undefined);
      throw new SluiceError(
        StateErrorCodes.backendIo,
        `cannot open the LevelDB state backend's working database under ${parent}: ${(err as Error).message}; ` +
          `set state.directory to a writable local folder with free space`,
        { cause: err },
      );
    }
  }

  /** The stored value of `key` (not counting queued writes), read synchronously. */
  get(key: Uint8Array): Uint8Array | undefined {
    this.#check();
    try {
      return this.#db.getSync(key);
    } catch (err) {
      throw this.#fail('read', err);
    }
  }

  /** Queues a write; batches of {@link BATCH_OPS} start on their own, the rest on {@link drain}. */
  enqueue(op: WriteOp): void {
    this.#check();
    this.#empty = false;
    this.#queued.push(op);
    if (this.#queued.length >= BATCH_OPS && this.#inFlight === undefined) this.#writeNext();
  }

  /**
   * A bulk load: a restore into the new database, before anything else is written to it or read from it. The
   * database is closed while the load writes its table files, then opened again ({@link TableLoad}).
   */
  async bulkLoad(): Promise<TableLoad> {
    this.#check();
    if (!this.#empty) {
      throw new SluiceError('SLUICE_INTERNAL', 'a LevelDB state backend was restored after state was written to it: restore() comes first', { retriable: false });
    }
    this.#empty = false;
    const fail = (err: unknown): SluiceError => (this.#failure ??= this.#fail('write', err));
    try {
      await this.#db.close();
      for (const name of await readdir(this.directory)) await rm(join(this.directory, name), { recursive: true, force: true });
    } catch (err) {
      throw fail(err);
    }
    const reopen = async (): Promise<void> => {
      try {
        this.#db = await openDatabase(this.directory, this.#maxOpenFiles);
      } catch (err) {
        throw (this.#failure ??= this.#fail('open the restored state', err));
      }
    };
    return new TableLoad(this.directory, reopen, fail);
  }

  /** Writes queued but not yet written. */
  get backlog(): number {
    return this.#queued.length;
  }

  /** Resolves when every queued write is in the database. */
  async drain(): Promise<void> {
    for (;;) {
      this.#check();
      if (this.#inFlight !== undefined) await this.#inFlight.catch(() => undefined);
      else if (this.#queued.length > 0) this.#writeNext();
      else return;
    }
  }

  /** Resolves once at most `limit` writes are queued (restores wait here instead of queueing all state at once). */
  async settle(limit: number): Promise<void> {
    while (this.#queued.length > limit) {
      this.#check();
      if (this.#inFlight === undefined) this.#writeNext();
      await this.#inFlight!.catch(() => undefined);
    }
    this.#check();
  }

  /**
   * The stored entries with `gte <= key < lt`, in key order, in arrays of up to 1,000. Call {@link drain} first to
   * see queued writes.
   */
  async *scan(gte: Uint8Array, lt: Uint8Array): AsyncGenerator<Array<[Uint8Array, Uint8Array]>> {
    this.#check();
    const iterator = this.#db.iterator({ gte, lt });
    try {
      for (;;) {
        let entries: Array<[Uint8Array, Uint8Array]>;
        try {
          entries = await iterator.nextv(1000);
        } catch (err) {
          throw this.#fail('scan', err);
        }
        if (entries.length === 0) return;
        yield entries;
      }
    } finally {
      await iterator.close();
    }
  }

  /** Closes the database and removes its folder. Queued writes are dropped: the state is disposable. */
  async destroy(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queued = [];
    await this.#inFlight?.catch(() => undefined);
    await this.#db.close().catch(() => undefined);
    await rm(this.directory, { recursive: true, force: true });
  }

  #writeNext(): void {
    const ops = this.#queued.splice(0, BATCH_OPS);
    const batch = this.#db.batch();
    for (const op of ops) {
      if (op.value === undefined) batch.del(op.key);
      else batch.put(op.key, op.value);
    }
    this.#inFlight = batch.write().then(
      () => {
        this.#inFlight = undefined;
        this.#onWritten(ops);
        if (this.#queued.length >= BATCH_OPS) this.#writeNext();
      },
      (err: unknown) => {
        this.#inFlight = undefined;
        this.#failure ??= this.#fail('write', err);
        throw this.#failure;
      },
    );
    this.#inFlight.catch(() => undefined); // seen by the next call instead
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#closed) throw new SluiceError('SLUICE_INTERNAL', 'the LevelDB state backend was used after it was closed', { retriable: false });
  }

  #fail(what: string, err: unknown): SluiceError {
    return new SluiceError(
      StateErrorCodes.backendIo,
      `the LevelDB state backend's working database (${this.directory}) failed to ${what}: ${(err as Error).message}; ` +
        `the attempt restarts from its last checkpoint — check the disk's free space and permissions`,
      { cause: err },
    );
  }
}

/**
 * Opens (creating it if missing) the working database in `directory`. Snappy compression is off: state values are
 * small msgpack records, and compression cost ~5 % of bulk writes (the table files a restore writes are
 * uncompressed too). An 8 MiB write buffer (LevelDB can hold two, the one filling and the one being flushed) and a
 * 1 MiB block cache keep LevelDB's own memory small: the backend's cache in front of it holds the hot keys, so a
 * miss rarely finds its block cached anyway. Measured on the 10M-key Zipf bench (bench/leveldb-state.ts, the LevelDB
 * variant alone): peak RSS 492 against 521 MiB with a 16 MiB buffer and the default 8 MiB cache, updates 199
 * against 205 s.
 */
async function openDatabase(directory: string, maxOpenFiles: number): Promise<ClassicLevel<Uint8Array, Uint8Array>> {
  await reserveTableMmapSlots();
  const db = new ClassicLevel<Uint8Array, Uint8Array>(directory, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    createIfMissing: true,
    compression: false,
    writeBufferSize: 8 << 20,
    cacheSize: 1 << 20,
    maxOpenFiles,
  });
  await db.open();
  return db;
}

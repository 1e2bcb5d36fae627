import { access, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Level } from 'level';
import { SluiceError } from '../errors/index.ts';
import { reserveTableMmapSlots } from '../state/leveldb/table-mmap-slots.ts';
import { LEVELDB_MIN_OPEN_FILES } from '../support/leveldb-open-files.ts';
import type { StoreBatchOp } from './checkpoint-store.ts';
import { CheckpointErrorCodes } from './manifest.ts';

/** The checkpoint store's LevelDB: string keys, binary values. @internal */
export type Db = Level<string, Uint8Array>;

/**
 * Writes the batch that makes a checkpoint exist (its manifest and id mark), synced: once it resolves the sinks commit
 * what the checkpoint covers, so it must outlive a power loss or an OS crash, not only the process (LevelDB otherwise
 * leaves its log in the page cache). One fdatasync of the log makes the blob batches before it durable too; measured
 * on a virtio disk, +0.4 ms per checkpoint. A chained batch carries the option: array batches stay without options,
 * since abstract-level copies a batch's options into each of its operations, and blob batches of a process whose
 * first `batch()` had options measured up to ~1.4× slower. @internal
 */
export async function writeDurably(db: Db, ops: readonly StoreBatchOp[]): Promise<void> {
  const batch = db.batch();
  for (const op of ops) {
    if (op.type === 'put') batch.put(op.key, op.value);
    else batch.del(op.key);
  }
  await batch.write({ sync: true });
}

/**
 * LevelDB's `max_open_files` for the checkpoint store: 74, the least LevelDB takes, which leaves 64 table files
 * open. Chosen while LevelDB still memory-mapped every table file it kept open (see
 * ../state/leveldb/table-mmap-slots.ts, which now makes it read them): with the default (1000) a store holding a
 * 10M-key job's checkpoints kept up to 277 MiB of their pages in the process's RSS, from compactions and blob reads
 * whose pages are never needed again; with 64 open tables at most 110 MiB, and the same job ran within the noise
 * (239.6 s against 227.3 s; reads are whole blobs, so reopening a table costs little per byte). It still bounds the
 * file descriptors and table indexes the store holds.
 */
export const STORE_MAX_OPEN_FILES = LEVELDB_MIN_OPEN_FILES;

/**
 * Opens the LevelDB at `location`, creating it when missing unless `create` is false. Throws
 * `SLUICE_CHECKPOINT_STORE_MISSING` for a missing one not to create (a command that only reads: a mistyped data
 * directory is reported, not given a new empty store), `SLUICE_CHECKPOINT_STORE_LOCKED` when another process (or
 * another open store) holds it, `SLUICE_CHECKPOINT_STORE_UNREADABLE` otherwise.
 * @internal
 */
export async function openStoreDb(location: string, create = true): Promise<Db> {
  // LevelDB writes CURRENT when it creates a database and never removes it.
  if (!create && !(await access(join(location, 'CURRENT')).then(() => true, () => false))) {
    const dataDir = dirname(location);
    throw new SluiceError(
      CheckpointErrorCodes.storeMissing,
      `no checkpoint store in ${dataDir} (nothing at ${location}): give the data directory the job ran with (\`sluice run\` and \`sluice start\` use .sluice in their working directory unless given --data-dir)`,
      { retriable: false },
    );
  }
  try {
    await mkdir(location, { recursive: true });
  } catch (err) {
    throw new SluiceError(
      CheckpointErrorCodes.storeUnreadable,
      `cannot create the checkpoint store directory ${location}: ${(err as Error).message}; check the data directory and its permissions`,
      { cause: err },
    );
  }
  await reserveTableMmapSlots();
  const db: Db = new Level<string, Uint8Array>(location, { valueEncoding: 'view', maxOpenFiles: STORE_MAX_OPEN_FILES });
  try {
    await db.open();
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'LEVEL_LOCKED') {
      throw new SluiceError(
        CheckpointErrorCodes.storeLocked,
        `checkpoint store ${location} is locked by another process or store (is another sluice service running ` +
          `with this data directory?); stop it, or use another data directory`,
        { cause: err, retriable: true },
      );
    }
    throw new SluiceError(
      CheckpointErrorCodes.storeUnreadable,
      `cannot open the checkpoint store ${location}: ${(err as Error).message}; check the directory's permissions ` +
        `and free disk space, or restore it from a backup (sluice restore)`,
      { cause: err },
    );
  }
  return db;
}

import { mkdir } from 'node:fs/promises';
import { Level } from 'level';
import { SluiceError } from '../errors/index.ts';
import { CheckpointErrorCodes } from './manifest.ts';

/** The checkpoint store's LevelDB: string keys, binary values. @internal */
export type Db = Level<string, Uint8Array>;

/**
 * Opens (creating if needed) the LevelDB at `location`. Throws `SLUICE_CHECKPOINT_STORE_LOCKED` when another
 * process (or another open store) holds it, `SLUICE_CHECKPOINT_STORE_UNREADABLE` otherwise.
 * @internal
 */
export async function openStoreDb(location: string): Promise<Db> {
  try {
    await mkdir(location, { recursive: true });
  } catch (err) {
    throw new SluiceError(
      CheckpointErrorCodes.storeUnreadable,
      `cannot create the checkpoint store directory ${location}: ${(err as Error).message}; check the data directory and its permissions`,
      { cause: err },
    );
  }
  const db: Db = new Level<string, Uint8Array>(location, { valueEncoding: 'view' });
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

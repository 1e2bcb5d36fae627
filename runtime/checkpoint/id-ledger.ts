import { readFile } from 'node:fs/promises';
import { SluiceError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import { replaceFile } from '../support/replace-file.ts';
import { CheckpointErrorCodes } from './manifest.ts';

/** The ledger's file in a data directory, beside the store's LevelDB folder (`checkpoints/`). */
export const ID_LEDGER_FILE = 'checkpoint-ids.json';

/**
 * The newest checkpoint id each job stored, kept in a small file beside the checkpoint store instead of in it.
 *
 * Why outside: LevelDB, reopening a store whose log holds a damaged record (a checksum mismatch: a bad disk, a copy
 * taken while the store was written), drops that record and the rest of its block and opens without an error. Its
 * paranoid checks are off, and classic-level does not expose them. The checkpoints in those records are then gone
 * without a trace in the store, and restoring the newest one left would repeat output that the sinks had already
 * committed for the lost ones. The store compares its own id high-water mark with this ledger, and refuses such a
 * restore (`SLUICE_CHECKPOINT_STORE_DAMAGED`, checkpoint-store.ts).
 *
 * The file is replaced atomically (written beside, then renamed) after each stored checkpoint. A missing file is an
 * empty ledger (a data directory from before the ledger); an unreadable one is logged and treated as empty, since the
 * ledger is a safety net, not the checkpoints' record.
 * @internal
 */
export class IdLedger {
  readonly #file: string;
  readonly #ids: Map<string, number>;
  readonly #logger: Logger;

  private constructor(file: string, ids: Map<string, number>, logger: Logger) {
    this.#file = file;
    this.#ids = ids;
    this.#logger = logger;
  }

  static async open(file: string, logger: Logger): Promise<IdLedger> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err, file }, 'cannot read the checkpoint id ledger; checking the store against it is off until the next checkpoint');
      return new IdLedger(file, new Map(), logger);
    }
    const ids = new Map<string, number>();
    try {
      const parsed = JSON.parse(text) as { jobs?: Record<string, unknown> };
      for (const [job, id] of Object.entries(parsed.jobs ?? {})) if (Number.isSafeInteger(id) && (id as number) > 0) ids.set(job, id as number);
    } catch (err) {
      logger.warn({ err, file }, 'the checkpoint id ledger is not valid JSON; checking the store against it is off until the next checkpoint');
    }
    return new IdLedger(file, ids, logger);
  }

  /** The newest id `job` stored (0 when the ledger knows none). */
  newest(job: string): number {
    return this.#ids.get(job) ?? 0;
  }

  /**
   * Notes that `job` stored checkpoint `id`; writes the file when that raises the job's newest id. A file that cannot
   * be written is logged, not thrown: the checkpoint is stored, and only the check against the ledger is weaker.
   * Not synced (unlike the store's batch before it): a ledger that a power loss leaves behind the store only checks
   * less, and one left ahead of it cannot happen, since the checkpoint was synced before this write began.
   */
  async record(job: string, id: number): Promise<void> {
    if (id <= this.newest(job)) return;
    this.#ids.set(job, id);
    try {
      await replaceFile(this.#file, `${JSON.stringify({ version: 1, jobs: Object.fromEntries(this.#ids) })}\n`, { sync: false });
    } catch (err) {
      this.#logger.warn({ err, file: this.#file, job, checkpoint: id }, 'cannot update the checkpoint id ledger; the checkpoint is stored');
    }
  }
}

/** `SLUICE_CHECKPOINT_STORE_DAMAGED`: `job` stored checkpoint `known`, the store's high-water mark is `stored`. @internal */
export function checkpointsLost(job: string, known: number, stored: number): SluiceError {
  return new SluiceError(
    CheckpointErrorCodes.storeDamaged,
    `the checkpoint store lost checkpoints of job "${job}": it stored checkpoint ${known}, but the store now ends at ${stored === 0 ? 'none' : stored} ` +
      `(LevelDB drops damaged records of its log, without an error, when it reopens a store; its LOG files there may still name them). Restoring an older checkpoint would ` +
      `repeat output the job already committed. Restore the data directory from a backup, or start the job over: sluice run --fresh, or ` +
      `sluice checkpoint clear for a service's job`,
    { retriable: false },
  );
}

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { SluiceError } from '../errors/index.ts';
import type { RescaleRecord } from '../runner/index.ts';
import { reserveTableMmapSlots } from '../state/leveldb/table-mmap-slots.ts';
import { ServiceErrorCodes } from './service-errors.ts';

/**
 * What the registry remembers of a job: the last thing the user asked for. `running` jobs are started again when the
 * service starts (crash recovery); every other state stays as it is until the user acts.
 */
export type RegisteredState = 'running' | 'paused' | 'stopped' | 'cancelled' | 'finished' | 'failed';

/** Where the next start of a job takes its state from. */
export type StartFrom = { readonly from: 'latest' } | { readonly from: 'none' } | { readonly from: 'checkpoint'; readonly id: number };

/** One job of the registry. */
export interface JobRecord {
  readonly name: string;
  /** Absolute path of the job file on the service's filesystem. */
  readonly file: string;
  readonly params: Readonly<Record<string, string>>;
  /** Parallelism override; absent: the job's own default. Rescales update it. */
  readonly parallelism?: number;
  /** Worker threads as submitted (`--workers`); absent: the service's default. */
  readonly workers?: number;
  readonly allowNonRestoredState: boolean;
  readonly state: RegisteredState;
  /**
   * Where the next start restores from. A submit `--from`, a pause, a restore or a clear set it; once the new run
   * completes its first checkpoint it is back to `latest`, so a crash in between still restores what was asked for.
   */
  readonly startFrom: StartFrom;
  /** Source start override for the next start (`checkpoint clear` / `catch-up`); dropped like `startFrom`. */
  readonly sourceStart?: 'earliest' | 'latest';
  readonly lastSavepoint?: { readonly id: number; readonly takenAt: number };
  readonly submittedAt: number;
  readonly updatedAt: number;
  /** Why the job failed, when `state` is `failed`. */
  readonly lastError?: string;
  /** The job's rescales, oldest first (the last {@link RESCALE_HISTORY}), kept across service restarts. */
  readonly rescales?: readonly RescaleRecord[];
}

/** How many rescales a record keeps. */
export const RESCALE_HISTORY = 20;

/** Fields to change in a record; `undefined` removes an optional field. */
export type RecordChange = { -readonly [K in Exclude<keyof JobRecord, 'name'>]?: JobRecord[K] | undefined };

/*
 * On-disk format: LevelDB at `<dataDir>/registry`, key `job!<name>`, value the JobRecord as JSON. A separate database
 * from the checkpoint store, so the registry can change format without touching checkpoints. LevelDB's lock also
 * keeps a second service off the same data directory.
 */
const PREFIX = 'job!';

/**
 * Registry writes are synced: each answers a user's action (submit, cancel, pause) or records where a job resumes,
 * and must survive a power loss or an OS crash, not only the process — a cancel lost there would start the job again
 * when the machine comes back. They are rare, so the fdatasync each costs does not matter.
 */
const DURABLE = { sync: true } as const;

/**
 * The job registry of a service, in LevelDB in the data directory.
 *
 * @example
 * ```ts
 * const registry = await JobRegistry.open('/var/lib/sluice');
 * await registry.put({ ...record, state: 'paused' });
 * for (const job of await registry.list()) if (job.state === 'running') resume(job);
 * ```
 */
export class JobRegistry {
  readonly #db: Level<string, JobRecord>;
  #serial: Promise<unknown> = Promise.resolve();

  private constructor(db: Level<string, JobRecord>) {
    this.#db = db;
  }

  /** Opens (creating) `<dataDir>/registry`; `SLUICE_REGISTRY_LOCKED` when another service holds it. */
  static async open(dataDir: string): Promise<JobRegistry> {
    const location = join(dataDir, 'registry');
    await reserveTableMmapSlots();
    const db = new Level<string, JobRecord>(location, { valueEncoding: 'json' });
    try {
      await mkdir(location, { recursive: true });
      await db.open();
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (code === 'LEVEL_LOCKED') {
        throw new SluiceError(ServiceErrorCodes.registryLocked, `the job registry ${location} is locked: another sluice service runs with data directory ${dataDir}; stop it, or pass another --data-dir`, { cause: err });
      }
      throw new SluiceError(ServiceErrorCodes.registryUnreadable, `cannot open the job registry ${location}: ${(err as Error).message}; check the data directory and its permissions`, { cause: err });
    }
    return new JobRegistry(db);
  }

  async get(name: string): Promise<JobRecord | undefined> {
    return this.#db.get(PREFIX + name);
  }

  async put(record: JobRecord): Promise<void> {
    await this.#enqueue(() => this.#db.put(PREFIX + record.name, record, DURABLE));
  }

  /**
   * Applies `change` (or what `change(current)` returns) to the stored record, if the job is registered, and returns
   * the new record.
   */
  async update(name: string, change: RecordChange | ((current: JobRecord) => RecordChange), now = Date.now()): Promise<JobRecord | undefined> {
    // Read-modify-write one at a time: runner events and user actions update the same record concurrently.
    return this.#enqueue(async () => {
      const current = await this.get(name);
      if (current === undefined) return undefined;
      const delta = typeof change === 'function' ? change(current) : change;
      const next = JSON.parse(JSON.stringify({ ...current, ...delta, updatedAt: now })) as JobRecord; // drops undefined fields
      await this.#db.put(PREFIX + name, next, DURABLE);
      return next;
    });
  }

  #enqueue<T>(write: () => Promise<T>): Promise<T> {
    const result = this.#serial.then(write);
    this.#serial = result.catch(() => undefined);
    return result;
  }

  /** Removes a job's registration; true when there was one. */
  async delete(name: string): Promise<boolean> {
    return this.#enqueue(async () => {
      if ((await this.get(name)) === undefined) return false;
      await this.#db.del(PREFIX + name, DURABLE);
      return true;
    });
  }

  /** Every registered job, by name. */
  async list(): Promise<JobRecord[]> {
    const out: JobRecord[] = [];
    for await (const value of this.#db.values({ gte: PREFIX, lt: `${PREFIX}\xff` })) out.push(value);
    return out;
  }

  async close(): Promise<void> {
    await this.#serial;
    await this.#db.close();
  }
}

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { SluiceError } from '../errors/index.ts';
import type { RescaleRecord } from '../runner/index.ts';
import { reserveTableMmapSlots } from '../state/leveldb/table-mmap-slots.ts';
import { replaceFile } from '../support/replace-file.ts';
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
 * On-disk format: `<dataDir>/registry.json`, `{ "version": 1, "jobs": { "<name>": JobRecord } }`, replaced atomically
 * and durably on every change (runtime/support/replace-file.ts). Registries up to 2026-12 kept the records in the
 * LevelDB at `<dataDir>/registry` (key `job!<name>`, value the JobRecord as JSON); LevelDB, reopening a database whose
 * log has a damaged record, drops it without an error, so a job could silently vanish from the service, or a
 * cancelled one come back. Such records are moved into the file the first time the registry opens, and the LevelDB
 * stays as the data directory's lock: its lock keeps a second service off the directory and, unlike a lock file, is
 * released when the process dies, however it dies.
 */
const REGISTRY_FILE = 'registry.json';
const FORMAT_VERSION = 1;
const LEGACY_PREFIX = 'job!';

/**
 * The job registry of a service: one JSON file in the data directory, held in memory. Writes are rare (a user's
 * action, a rescale, the first checkpoint of a start), so each rewrites the file whole.
 *
 * @example
 * ```ts
 * const registry = await JobRegistry.open('/var/lib/sluice');
 * await registry.put({ ...record, state: 'paused' });
 * for (const job of await registry.list()) if (job.state === 'running') resume(job);
 * ```
 */
export class JobRegistry {
  readonly #lock: Level<string, JobRecord>;
  readonly #file: string;
  #jobs: ReadonlyMap<string, JobRecord>;
  #serial: Promise<unknown> = Promise.resolve();

  private constructor(lock: Level<string, JobRecord>, file: string, jobs: ReadonlyMap<string, JobRecord>) {
    this.#lock = lock;
    this.#file = file;
    this.#jobs = jobs;
  }

  /**
   * Opens the registry of `dataDir` (creating it): `SLUICE_REGISTRY_LOCKED` when another service holds the directory,
   * `SLUICE_REGISTRY_UNREADABLE` when its file cannot be read.
   */
  static async open(dataDir: string): Promise<JobRegistry> {
    const location = join(dataDir, 'registry');
    await reserveTableMmapSlots();
    const lock = new Level<string, JobRecord>(location, { valueEncoding: 'json' });
    try {
      await mkdir(location, { recursive: true });
      await lock.open();
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (code === 'LEVEL_LOCKED') {
        throw new SluiceError(ServiceErrorCodes.registryLocked, `the job registry ${location} is locked: another sluice service runs with data directory ${dataDir}; stop it, or pass another --data-dir`, { cause: err });
      }
      throw new SluiceError(ServiceErrorCodes.registryUnreadable, `cannot open the job registry ${location}: ${(err as Error).message}; check the data directory and its permissions`, { cause: err });
    }
    const file = join(dataDir, REGISTRY_FILE);
    try {
      return new JobRegistry(lock, file, (await readRegistryFile(file)) ?? (await moveLegacyRecords(lock, file)));
    } catch (err) {
      await lock.close();
      throw err;
    }
  }

  async get(name: string): Promise<JobRecord | undefined> {
    return this.#jobs.get(name);
  }

  async put(record: JobRecord): Promise<void> {
    await this.#enqueue(() => this.#write(new Map(this.#jobs).set(record.name, record)));
  }

  /**
   * Applies `change` (or what `change(current)` returns) to the stored record, if the job is registered, and returns
   * the new record.
   */
  async update(name: string, change: RecordChange | ((current: JobRecord) => RecordChange), now = Date.now()): Promise<JobRecord | undefined> {
    // Read-modify-write one at a time: runner events and user actions update the same record concurrently.
    return this.#enqueue(async () => {
      const current = this.#jobs.get(name);
      if (current === undefined) return undefined;
      const delta = typeof change === 'function' ? change(current) : change;
      const next = JSON.parse(JSON.stringify({ ...current, ...delta, updatedAt: now })) as JobRecord; // drops undefined fields
      await this.#write(new Map(this.#jobs).set(name, next));
      return next;
    });
  }

  /** Removes a job's registration; true when there was one. */
  async delete(name: string): Promise<boolean> {
    return this.#enqueue(async () => {
      if (!this.#jobs.has(name)) return false;
      const jobs = new Map(this.#jobs);
      jobs.delete(name);
      await this.#write(jobs);
      return true;
    });
  }

  /** Every registered job, by name. */
  async list(): Promise<JobRecord[]> {
    return [...this.#jobs.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async close(): Promise<void> {
    await this.#serial.catch(() => undefined);
    await this.#lock.close();
  }

  /** Stores `jobs` as the registry, then serves them: a write that fails changes nothing. */
  async #write(jobs: ReadonlyMap<string, JobRecord>): Promise<void> {
    await writeRegistryFile(this.#file, jobs);
    this.#jobs = jobs;
  }

  #enqueue<T>(write: () => Promise<T>): Promise<T> {
    const result = this.#serial.then(write);
    this.#serial = result.catch(() => undefined);
    return result;
  }
}

async function writeRegistryFile(file: string, jobs: ReadonlyMap<string, JobRecord>): Promise<void> {
  await replaceFile(file, `${JSON.stringify({ version: FORMAT_VERSION, jobs: Object.fromEntries(jobs) }, null, 1)}\n`);
}

/** The registry file's jobs; undefined when there is no file yet. */
async function readRegistryFile(file: string): Promise<Map<string, JobRecord> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(file, (err as Error).message, err);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw unreadable(file, `not JSON (${(err as Error).message})`, err);
  }
  const { version, jobs } = (document ?? {}) as { version?: unknown; jobs?: unknown };
  if (version !== FORMAT_VERSION || typeof jobs !== 'object' || jobs === null) {
    throw unreadable(file, version !== FORMAT_VERSION ? `format version ${JSON.stringify(version)}, this sluice reads ${FORMAT_VERSION}` : 'no "jobs" object');
  }
  const out = new Map<string, JobRecord>();
  for (const [name, record] of Object.entries(jobs)) {
    if (typeof record !== 'object' || record === null || (record as JobRecord).name !== name || typeof (record as JobRecord).file !== 'string') {
      throw unreadable(file, `the record of job ${JSON.stringify(name)} is not a job record`);
    }
    out.set(name, record as JobRecord);
  }
  return out;
}

/**
 * Moves the records of a registry from before the file (LevelDB, key `job!<name>`) into a new registry file, then
 * deletes them from the LevelDB, so a registry file removed later cannot bring back stale records.
 */
async function moveLegacyRecords(lock: Level<string, JobRecord>, file: string): Promise<Map<string, JobRecord>> {
  const jobs = new Map<string, JobRecord>();
  for await (const record of lock.values({ gte: LEGACY_PREFIX, lt: `${LEGACY_PREFIX}\xff` })) jobs.set(record.name, record);
  await writeRegistryFile(file, jobs);
  if (jobs.size > 0) await lock.clear({ gte: LEGACY_PREFIX, lt: `${LEGACY_PREFIX}\xff` });
  return jobs;
}

function unreadable(file: string, why: string, cause?: unknown): SluiceError {
  return new SluiceError(
    ServiceErrorCodes.registryUnreadable,
    `the job registry ${file} cannot be read: ${why}. Restore it from a backup of the data directory, or move it away to start with no registered jobs ` +
      `(their checkpoints stay: submitting a job again under its name resumes it from its latest checkpoint)`,
    cause === undefined ? {} : { cause },
  );
}

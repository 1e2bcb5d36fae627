import { JobParams } from '../api/index.ts';
import type { CheckpointInfo, CheckpointManifest, CheckpointStore } from '../checkpoint/index.ts';
import { CheckpointErrorCodes } from '../checkpoint/index.ts';
import { SluiceError } from '../errors/index.ts';
import { answerKeyedState, type KeyedStateAnswer, type KeyedStateQuery } from '../inspect/keyed-state-answer.ts';
import { checkpointToRead } from '../inspect/keyed-state-reader.ts';
import { buildPhysicalPlan } from '../graph/index.ts';
import type { Logger } from '../logging/index.ts';
import type { JobRunner, RescaleRecord } from '../runner/index.ts';
import type { JobFileLoader } from './job-loader.ts';
import { ActiveJobs, type ActiveJob, type ClusterRun } from './active-jobs.ts';
import type { JobRecord, JobRegistry, StartFrom } from './job-registry.ts';
import { JobTracker } from './job-tracker.ts';
import type { LagHistoryView } from './lag-history.ts';
import { resolve } from 'node:path';
import { jobStatus, jobSummary } from './job-status-view.ts';
import { NameLocks } from './name-locks.ts';
import { redactSecrets } from './redact.ts';
import { assertReplaceable } from './replace-check.ts';
import { backupBytes, describeSavepoint, SavepointFiles, type ExportInfo } from './savepoint-files.ts';
import type { Download } from './rest-api.ts';
import type { Readable } from 'node:stream';
import { ServiceErrorCodes, jobNotFound, notRunning } from './service-errors.ts';
import type { BackupDocument, JobStatus, JobSummary, SavepointInfo, SubmitRequest } from './supervisor-api.ts';

export interface JobSupervisorOptions {
  readonly registry: JobRegistry;
  readonly store: CheckpointStore;
  readonly loader: JobFileLoader;
  readonly dataDir: string;
  readonly logger: Logger;
  /** Worker threads of jobs submitted without `workers` (`sluice start --workers`); absent: one per core. */
  readonly workers?: number;
  readonly now?: () => number;
  /** Told of every runner started for a job (the service's Prometheus metrics track it). */
  readonly onRunner?: (name: string, runner: JobRunner) => void;
  /** Cluster mode: how this member runs a job it owns (runtime/cluster). */
  readonly clusterRun?: (name: string) => ClusterRun | undefined;
}

/**
 * Runs the registered jobs in this process, one {@link JobRunner} per job name, and carries out what the REST API
 * asks: submit, cancel, stop, savepoint, rescale, pause, resume and the checkpoint tools. Actions on one job run one
 * at a time (a per-name lock), so two submits of one job cannot both start it.
 *
 * @example
 * ```ts
 * const supervisor = new JobSupervisor({ registry, store, loader, dataDir, logger });
 * await supervisor.recover(); // resume what was running before a crash
 * await supervisor.submit({ file: '/srv/jobs/orders.ts', parallelism: 4 });
 * ```
 */
export class JobSupervisor {
  readonly #registry: JobRegistry;
  readonly #store: CheckpointStore;
  readonly #loader: JobFileLoader;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #jobs: ActiveJobs;
  readonly #trackers = new Map<string, JobTracker>();
  readonly #locks = new NameLocks();
  readonly #files: SavepointFiles;

  constructor(options: JobSupervisorOptions) {
    this.#registry = options.registry;
    this.#store = options.store;
    this.#loader = options.loader;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#jobs = new ActiveJobs({
      registry: options.registry,
      store: options.store,
      loader: options.loader,
      logger: options.logger,
      now: this.#now,
      workers: options.workers,
      onRunner: options.onRunner,
      clusterRun: options.clusterRun,
      tracker: (name: string) => this.#tracker(name),
    });
    this.#files = new SavepointFiles({ store: options.store, dataDir: options.dataDir, now: this.#now });
  }

  /** Starts every job registered as `running` from its latest checkpoint (after a crash or a restart). */
  async recover(): Promise<void> {
    const running = (await this.#registry.list()).filter((r) => r.state === 'running');
    await Promise.all(
      running.map((record) =>
        this.#withLock(record.name, async () => {
          try {
            await this.#jobs.start(record);
            this.#logger.info({ job: record.name }, `resumed job "${record.name}"`);
          } catch (err) {
            this.#logger.error({ job: record.name, err: (err as Error)?.message }, `could not resume job "${record.name}"`);
            this.#tracker(record.name).recordException(err);
            await this.#registry.update(record.name, { state: 'failed', lastError: (err as Error)?.message ?? String(err) }, this.#now());
          }
        }),
      ),
    );
  }

  async submit(request: SubmitRequest): Promise<JobStatus> {
    const file = resolve(request.file);
    const job = await this.#loader.load(file);
    const name = job.options.name;
    const params = request.params ?? {};
    // Validation before anything stops or starts: every problem of the plan comes back at once.
    buildPhysicalPlan(job, { params: new JobParams(Object.entries(params)), ...(request.parallelism === undefined ? {} : { parallelism: request.parallelism }) });
    return this.#withLock(name, async () => {
      const existing = await this.#registry.get(name);
      const active = await this.#jobs.current(name);
      if (active !== undefined && request.replace !== true) {
        throw new SluiceError(
          ServiceErrorCodes.jobRunning,
          `job "${name}" is already running (since ${new Date(active.startedAt).toISOString()}); stop it first (sluice stop ${name} --savepoint), or submit with --replace to stop it with a savepoint and restart it with this file and options`,
        );
      }
      // A replacement keeps the parallelism the running job has now (a rescale may have changed it) unless -p says.
      const parallelism = request.parallelism ?? (active === undefined ? undefined : active.runner.plan.parallelism);
      const workers = request.workers ?? (active === undefined ? undefined : existing?.workers);
      const from = await this.#files.checkFrom(name, request.from);
      if (active !== undefined && from.kind === 'latest') {
        // Refuse before stopping anything: the running job stays up when the new version could not restore its state.
        const plan = buildPhysicalPlan(job, { params: new JobParams(Object.entries(params)), ...(parallelism === undefined ? {} : { parallelism }) });
        assertReplaceable(active.runner.plan, plan, request.allowNonRestoredState ?? false);
      }
      let startFrom: StartFrom = from.kind === 'id' ? { from: 'checkpoint', id: from.id } : { from: 'latest' };
      let lastSavepoint = existing?.lastSavepoint;
      if (active !== undefined) {
        const savepoint = await this.#jobs.stop(name, active, 'stopped', active.checkpointing);
        if (savepoint !== undefined) {
          lastSavepoint = { id: savepoint.id, takenAt: savepoint.timestamp };
          if (from.kind === 'latest') startFrom = { from: 'checkpoint', id: savepoint.id };
        }
      }
      if (from.kind === 'file') {
        const imported = await this.#files.importFile(name, from.path);
        this.#logger.info({ job: name, file: from.path, savepoint: imported.id }, `imported savepoint file ${from.path} as savepoint ${imported.id}`);
        startFrom = { from: 'checkpoint', id: imported.id };
      }
      const now = this.#now();
      const record: JobRecord = {
        name,
        file,
        params,
        ...(parallelism === undefined ? {} : { parallelism }),
        ...(workers === undefined ? {} : { workers }),
        allowNonRestoredState: request.allowNonRestoredState ?? false,
        state: 'running',
        startFrom,
        ...(lastSavepoint === undefined ? {} : { lastSavepoint }),
        submittedAt: now,
        updatedAt: now,
      };
      await this.#registry.put(record);
      this.#logger.info({ job: name, file, params: redactSecrets(params), parallelism, startFrom }, `submitted job "${name}"`);
      await this.#jobs.start(record, job);
      return this.#status(name);
    });
  }

  async list(): Promise<JobSummary[]> {
    const records = await this.#registry.list();
    return records.map((record) => jobSummary(record, this.#jobs.get(record.name), this.#trackers.get(record.name), this.#now()));
  }

  async status(name: string): Promise<JobStatus> {
    await this.#record(name);
    return this.#status(name);
  }

  /** Each split's lag over the last minutes, one sample a second (the dashboard's lag chart). */
  async lagHistory(name: string): Promise<LagHistoryView> {
    await this.#record(name);
    return this.#tracker(name).lagHistory();
  }

  async cancel(name: string): Promise<JobStatus> {
    return this.#withLock(name, async () => {
      const record = await this.#record(name);
      const active = await this.#jobs.current(name);
      if (active !== undefined) {
        await this.#jobs.stop(name, active, 'cancelled', false);
      } else if (record.state === 'paused' || record.state === 'stopped') {
        await this.#registry.update(name, { state: 'cancelled' }, this.#now());
      } else {
        throw notRunning(name, record.state, 'cancel');
      }
      return this.#status(name);
    });
  }

  async stop(name: string, options: { savepoint: boolean }): Promise<{ job: JobStatus; savepoint: SavepointInfo | null }> {
    return this.#withLock(name, async () => {
      const record = await this.#record(name);
      const active = await this.#jobs.current(name);
      if (active === undefined) throw notRunning(name, record.state, 'stop');
      if (options.savepoint) this.#requireCheckpointing(name, active, 'stopped with a savepoint');
      const parallelism = active.runner.plan.parallelism;
      const savepoint = await this.#jobs.stop(name, active, 'stopped', options.savepoint);
      await this.#registry.update(
        name,
        { parallelism, ...(savepoint === undefined ? {} : { startFrom: { from: 'checkpoint', id: savepoint.id }, lastSavepoint: { id: savepoint.id, takenAt: savepoint.timestamp } }) },
        this.#now(),
      );
      return { job: await this.#status(name), savepoint: savepoint === undefined ? null : describeSavepoint(savepoint) };
    });
  }

  async savepoint(name: string): Promise<SavepointInfo> {
    return this.#withLock(name, async () => {
      const record = await this.#record(name);
      const active = await this.#jobs.current(name);
      if (active === undefined) throw notRunning(name, record.state, 'take a savepoint of');
      this.#requireCheckpointing(name, active, 'savepointed');
      const manifest = await active.runner.checkpoint('savepoint');
      await this.#registry.update(name, { lastSavepoint: { id: manifest.id, takenAt: manifest.timestamp } }, this.#now());
      return describeSavepoint(manifest);
    });
  }

  async rescale(name: string, parallelism: number): Promise<RescaleRecord> {
    return this.#withLock(name, async () => {
      const record = await this.#record(name);
      const active = await this.#jobs.current(name);
      if (active === undefined) throw notRunning(name, record.state, 'rescale');
      const rescale = await active.runner.rescale(parallelism);
      await this.#registry.update(name, { parallelism: rescale.to }, this.#now());
      return rescale;
    });
  }

  /** Stops the job with a savepoint and keeps it registered as `paused`; {@link resume} continues from there. */
  async pause(name: string): Promise<{ job: JobStatus; savepoint: SavepointInfo }> {
    return this.#withLock(name, async () => {
      const record = await this.#record(name);
      const active = await this.#jobs.current(name);
      if (active === undefined) throw notRunning(name, record.state, 'pause');
      this.#requireCheckpointing(name, active, 'paused');
      const parallelism = active.runner.plan.parallelism;
      const savepoint = (await this.#jobs.stop(name, active, 'paused', true)) as CheckpointManifest;
      // Resumes at the parallelism it ran at (a rescale may have changed it), which `list` shows meanwhile.
      await this.#registry.update(name, { parallelism, startFrom: { from: 'checkpoint', id: savepoint.id }, lastSavepoint: { id: savepoint.id, takenAt: savepoint.timestamp } }, this.#now());
      return { job: await this.#status(name), savepoint: describeSavepoint(savepoint) };
    });
  }

  /** Starts a job that is not running from where its registry entry says (a pause's savepoint, or its latest checkpoint). */
  async resume(name: string): Promise<JobStatus> {
    return this.#withLock(name, async () => {
      await this.#record(name);
      if ((await this.#jobs.current(name)) !== undefined) throw new SluiceError(ServiceErrorCodes.jobRunning, `job "${name}" is already running: nothing to resume`);
      const record = (await this.#registry.update(name, { state: 'running', lastError: undefined }, this.#now())) as JobRecord;
      await this.#jobs.start(record);
      return this.#status(name);
    });
  }

  /** The job's checkpoints and savepoints in the store, newest first. */
  async checkpoints(name: string): Promise<CheckpointInfo[]> {
    const list = await this.#store.list(name);
    if (list.length === 0 && (await this.#registry.get(name)) === undefined) throw jobNotFound(name);
    return list;
  }

  /**
   * What a listing of the job's checkpoints should warn about: checkpoints its store lost
   * (`SLUICE_CHECKPOINT_STORE_DAMAGED`: LevelDB dropped records of a damaged log), which the job's next start refuses
   * to restore past.
   */
  async checkpointWarnings(name: string): Promise<Array<{ code: string; message: string }>> {
    const lost = await this.#store.lostCheckpoints(name);
    return lost === undefined ? [] : [{ code: lost.code, message: lost.message }];
  }

  /**
   * The keyed state of one of the job's checkpoints (default: the newest), read from the service's store:
   * the operators that hold some, or one operator's entries (`GET /v1/jobs/:name/state`, what `sluice state` asks).
   */
  async keyedState(name: string, id: number | undefined, query: KeyedStateQuery): Promise<KeyedStateAnswer> {
    const checkpoint = await checkpointToRead(this.#store, name, id);
    if (checkpoint === undefined) {
      if ((await this.#registry.get(name)) === undefined) throw jobNotFound(name);
      throw new SluiceError(CheckpointErrorCodes.notFound, `job "${name}" has no checkpoint yet: its state is read from its checkpoints; wait for one (sluice checkpoints ${name})`, { retriable: true });
    }
    return answerKeyedState(checkpoint, query);
  }

  /** Exports one checkpoint (default: the newest valid one) as a JSON-safe document. */
  async backup(name: string, id?: number): Promise<BackupDocument> {
    const list = await this.checkpoints(name);
    return this.#files.backup(name, list, id);
  }

  /**
   * Imports a backup as a new savepoint of the job; the job's next start restores it. A running job restarts from it
   * right away (what it did since its last checkpoint is replaced by the backup's state).
   */
  async restore(name: string, document: unknown): Promise<{ job: JobStatus; savepoint: SavepointInfo }> {
    const bytes = backupBytes(document);
    return this.#restoreWith(name, () => this.#files.importBytes(name, bytes));
  }

  /**
   * One checkpoint (default: the newest valid one) as its export, streamed: what `sluice checkpoint backup` writes.
   * No size limit, unlike a {@link backup} document.
   */
  async exportCheckpoint(name: string, id?: number): Promise<{ info: ExportInfo; download: Download }> {
    const list = await this.checkpoints(name);
    return this.#files.exportDownload(name, list, id);
  }

  /**
   * As {@link restore}, from a checkpoint export streamed in (`sluice checkpoint restore` sends the file so). The
   * upload is received into a file first, without the job's lock: other actions on the job do not wait for it.
   */
  async importExport(name: string, upload: Readable): Promise<{ job: JobStatus; savepoint: SavepointInfo }> {
    await this.#record(name); // an unknown job is refused before its upload is read
    const received = await this.#files.receiveUpload(upload);
    try {
      return await this.#restoreWith(name, () => this.#store.importFrom(received.path, { job: name }));
    } finally {
      await received.release();
    }
  }

  async #restoreWith(name: string, importSavepoint: () => Promise<CheckpointManifest>): Promise<{ job: JobStatus; savepoint: SavepointInfo }> {
    return this.#withLock(name, async () => {
      await this.#record(name);
      const manifest = await importSavepoint();
      this.#logger.info({ job: name, savepoint: manifest.id }, `restored a backup of job "${name}" as savepoint ${manifest.id}`);
      const active = await this.#jobs.current(name);
      if (active !== undefined) await this.#jobs.stop(name, active, undefined, false);
      const record = (await this.#registry.update(
        name,
        { startFrom: { from: 'checkpoint', id: manifest.id }, sourceStart: undefined, lastSavepoint: { id: manifest.id, takenAt: manifest.timestamp } },
        this.#now(),
      )) as JobRecord;
      if (active !== undefined) await this.#jobs.start(record);
      return { job: await this.#status(name), savepoint: describeSavepoint(manifest) };
    });
  }

  /**
   * Deletes every checkpoint and savepoint of the job; its next start keeps no state and reads every source from the
   * earliest position (reprocessing). Keeping state while replaying the input would count everything twice, so
   * both go. A running job restarts that way right away.
   */
  async clear(name: string): Promise<{ job: JobStatus; deleted: number }> {
    return this.#withLock(name, async () => {
      await this.#record(name);
      const active = await this.#jobs.current(name);
      if (active !== undefined) await this.#jobs.stop(name, active, undefined, false);
      const deleted = (await this.#store.ids(name)).length;
      await this.#store.deleteAll(name);
      const record = (await this.#registry.update(name, { startFrom: { from: 'none' }, sourceStart: 'earliest', lastSavepoint: undefined }, this.#now())) as JobRecord;
      this.#logger.info({ job: name, deleted }, `cleared ${deleted} checkpoint(s) of job "${name}"; it reprocesses from the earliest positions`);
      if (active !== undefined) await this.#jobs.start(record);
      return { job: await this.#status(name), deleted };
    });
  }

  /**
   * Forgets a job that is not running: it leaves `list`, its history and exceptions go. Its checkpoints and savepoints
   * stay unless `checkpoints` is set (a later submit of the same name then resumes from them); with it they are
   * deleted too, for good.
   */
  async delete(name: string, options: { checkpoints: boolean }): Promise<{ deleted: string; checkpointsDeleted: number }> {
    return this.#withLock(name, async () => {
      const record = await this.#record(name);
      if ((await this.#jobs.current(name)) !== undefined) {
        throw new SluiceError(
          ServiceErrorCodes.jobRunning,
          `job "${name}" is ${record.state === 'running' ? 'running' : record.state}: cancel or stop it first (sluice cancel ${name}), then delete it`,
        );
      }
      let checkpointsDeleted = 0;
      if (options.checkpoints) {
        checkpointsDeleted = (await this.#store.ids(name)).length;
        await this.#store.deleteAll(name);
      }
      await this.#registry.delete(name);
      this.#trackers.get(name)?.stop();
      this.#trackers.delete(name);
      this.#logger.info({ job: name, checkpointsDeleted }, `deleted job "${name}"${options.checkpoints ? ` and its ${checkpointsDeleted} checkpoint(s) and savepoint(s)` : ''}`);
      return { deleted: name, checkpointsDeleted };
    });
  }

  /**
   * Skips the backlog: the next start restores the latest checkpoint's state but reads every source from its latest
   * position. A running job takes a checkpoint first (so its state is current), then restarts that way.
   */
  async catchUp(name: string): Promise<JobStatus> {
    return this.#withLock(name, async () => {
      await this.#record(name);
      const active = await this.#jobs.current(name);
      if (active !== undefined) {
        if (active.checkpointing) {
          await active.runner.checkpoint('checkpoint').catch((err: unknown) => {
            this.#logger.warn({ job: name, err: (err as Error)?.message }, 'checkpoint before catch-up failed; the previous checkpoint\'s state is used');
          });
        }
        await this.#jobs.stop(name, active, undefined, false);
      }
      const record = (await this.#registry.update(name, { startFrom: { from: 'latest' }, sourceStart: 'latest' }, this.#now())) as JobRecord;
      if (active !== undefined) await this.#jobs.start(record);
      return this.#status(name);
    });
  }

  /** Stops every running job without changing its registered state, so the next service start resumes it. */
  async close(): Promise<void> {
    await this.#jobs.closeAll();
    for (const tracker of this.#trackers.values()) tracker.stop();
  }

  #requireCheckpointing(name: string, active: ActiveJob, what: string): void {
    if (active.checkpointing) return;
    throw new SluiceError(
      'SLUICE_CHECKPOINTS_DISABLED',
      `job "${name}" does not take checkpoints, so it cannot be ${what}: enable checkpoints in its defineJob options, or use sluice cancel`,
    );
  }

  async #record(name: string): Promise<JobRecord> {
    const record = await this.#registry.get(name);
    if (record === undefined) throw jobNotFound(name);
    return record;
  }

  #tracker(name: string): JobTracker {
    let tracker = this.#trackers.get(name);
    if (tracker === undefined) {
      tracker = new JobTracker(this.#now);
      this.#trackers.set(name, tracker);
    }
    return tracker;
  }

  async #status(name: string): Promise<JobStatus> {
    return jobStatus(await this.#record(name), this.#jobs.get(name), this.#tracker(name), this.#now());
  }

  #withLock<T>(name: string, action: () => Promise<T>): Promise<T> {
    return this.#locks.run(name, action);
  }
}

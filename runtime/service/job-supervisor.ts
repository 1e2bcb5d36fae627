import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { JobParams, type JobDefinition } from '../api/index.ts';
import type { CheckpointInfo, CheckpointManifest, CheckpointStore } from '../checkpoint/index.ts';
import { SluiceError } from '../errors/index.ts';
import { buildPhysicalPlan } from '../graph/index.ts';
import type { Logger } from '../logging/index.ts';
import { assertRestorable, JobRunner, type JobEvent, type RescaleRecord } from '../runner/index.ts';
import type { JobFileLoader } from './job-loader.ts';
import { RESCALE_HISTORY, type JobRecord, type JobRegistry, type RegisteredState, type StartFrom } from './job-registry.ts';
import { JobTracker } from './job-tracker.ts';
import { redactSecrets } from './redact.ts';
import { ServiceErrorCodes, badRequest, jobNotFound } from './service-errors.ts';
import type { BackupDocument, JobStatus, JobSummary, SavepointInfo, SubmitRequest } from './supervisor-api.ts';

interface ActiveJob {
  readonly runner: JobRunner;
  readonly startedAt: number;
  readonly checkpointing: boolean;
  done: Promise<void>;
  /** Registered state once this run ends by cancellation; `undefined` keeps it (service shutdown, a restart). */
  endAs: RegisteredState | undefined;
  /** The registry's one-shot start settings were reset after the run's first checkpoint. */
  startSettled: boolean;
}

export interface JobSupervisorOptions {
  readonly registry: JobRegistry;
  readonly store: CheckpointStore;
  readonly loader: JobFileLoader;
  readonly dataDir: string;
  readonly logger: Logger;
  /** Worker threads of jobs submitted without `workers` (`sluice start --workers`); absent: one per core. */
  readonly workers?: number;
  readonly now?: () => number;
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
  readonly #dataDir: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #workers: number | undefined;
  readonly #active = new Map<string, ActiveJob>();
  readonly #trackers = new Map<string, JobTracker>();
  readonly #locks = new Map<string, Promise<unknown>>();
  #closing = false;

  constructor(options: JobSupervisorOptions) {
    this.#registry = options.registry;
    this.#store = options.store;
    this.#loader = options.loader;
    this.#dataDir = options.dataDir;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#workers = options.workers;
  }

  /** Starts every job registered as `running` from its latest checkpoint (after a crash or a restart). */
  async recover(): Promise<void> {
    const running = (await this.#registry.list()).filter((r) => r.state === 'running');
    await Promise.all(
      running.map((record) =>
        this.#withLock(record.name, async () => {
          try {
            await this.#start(record);
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
      const active = this.#active.get(name);
      if (active !== undefined && request.replace !== true) {
        throw new SluiceError(
          ServiceErrorCodes.jobRunning,
          `job "${name}" is already running (since ${new Date(active.startedAt).toISOString()}); stop it first (sluice stop ${name} --savepoint), or submit with --replace to stop it with a savepoint and restart it with this file and options`,
        );
      }
      // A replacement keeps the parallelism the running job has now (a rescale may have changed it) unless -p says.
      const parallelism = request.parallelism ?? (active === undefined ? undefined : active.runner.plan.parallelism);
      const workers = request.workers ?? (active === undefined ? undefined : existing?.workers);
      const from = await this.#checkFrom(name, request.from);
      if (active !== undefined && from.kind === 'latest') {
        // Refuse before stopping anything: the running job stays up when the new version could not restore its state.
        const running = active.runner.plan;
        const plan = buildPhysicalPlan(job, { params: new JobParams(Object.entries(params)), ...(parallelism === undefined ? {} : { parallelism }) });
        assertRestorable(
          {
            what: 'the running job',
            job: name,
            maxParallelism: running.maxParallelism,
            statefulUids: running.stages.flatMap((stage) => stage.operators.filter((op) => op.stateful).map((op) => op.uid)),
          },
          plan,
          { allowNonRestoredState: request.allowNonRestoredState ?? false },
        );
      }
      let startFrom: StartFrom = from.kind === 'id' ? { from: 'checkpoint', id: from.id } : { from: 'latest' };
      let lastSavepoint = existing?.lastSavepoint;
      if (active !== undefined) {
        const savepoint = await this.#stopActive(name, active, 'stopped', active.checkpointing);
        if (savepoint !== undefined) {
          lastSavepoint = { id: savepoint.id, takenAt: savepoint.timestamp };
          if (from.kind === 'latest') startFrom = { from: 'checkpoint', id: savepoint.id };
        }
      }
      if (from.kind === 'file') {
        const imported = await this.#importFile(name, from.path);
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
      await this.#start(record, job);
      return this.#status(name);
    });
  }

  async list(): Promise<JobSummary[]> {
    const records = await this.#registry.list();
    return records.map((record) => this.#summary(record));
  }

  async status(name: string): Promise<JobStatus> {
    await this.#record(name);
    return this.#status(name);
  }

  async cancel(name: string): Promise<JobStatus> {
    return this.#withLock(name, async () => {
      const record = await this.#record(name);
      const active = this.#active.get(name);
      if (active !== undefined) {
        await this.#stopActive(name, active, 'cancelled', false);
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
      const active = this.#active.get(name);
      if (active === undefined) throw notRunning(name, record.state, 'stop');
      if (options.savepoint) this.#requireCheckpointing(name, active, 'stopped with a savepoint');
      const parallelism = active.runner.plan.parallelism;
      const savepoint = await this.#stopActive(name, active, 'stopped', options.savepoint);
      await this.#registry.update(
        name,
        { parallelism, ...(savepoint === undefined ? {} : { startFrom: { from: 'checkpoint', id: savepoint.id }, lastSavepoint: { id: savepoint.id, takenAt: savepoint.timestamp } }) },
        this.#now(),
      );
      return { job: await this.#status(name), savepoint: savepoint === undefined ? null : describe(savepoint) };
    });
  }

  async savepoint(name: string): Promise<SavepointInfo> {
    return this.#withLock(name, async () => {
      const record = await this.#record(name);
      const active = this.#active.get(name);
      if (active === undefined) throw notRunning(name, record.state, 'take a savepoint of');
      this.#requireCheckpointing(name, active, 'savepointed');
      const manifest = await active.runner.checkpoint('savepoint');
      await this.#registry.update(name, { lastSavepoint: { id: manifest.id, takenAt: manifest.timestamp } }, this.#now());
      return describe(manifest);
    });
  }

  async rescale(name: string, parallelism: number): Promise<RescaleRecord> {
    return this.#withLock(name, async () => {
      const record = await this.#record(name);
      const active = this.#active.get(name);
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
      const active = this.#active.get(name);
      if (active === undefined) throw notRunning(name, record.state, 'pause');
      this.#requireCheckpointing(name, active, 'paused');
      const parallelism = active.runner.plan.parallelism;
      const savepoint = (await this.#stopActive(name, active, 'paused', true)) as CheckpointManifest;
      // Resumes at the parallelism it ran at (a rescale may have changed it), which `list` shows meanwhile.
      await this.#registry.update(name, { parallelism, startFrom: { from: 'checkpoint', id: savepoint.id }, lastSavepoint: { id: savepoint.id, takenAt: savepoint.timestamp } }, this.#now());
      return { job: await this.#status(name), savepoint: describe(savepoint) };
    });
  }

  /** Starts a job that is not running from where its registry entry says (a pause's savepoint, or its latest checkpoint). */
  async resume(name: string): Promise<JobStatus> {
    return this.#withLock(name, async () => {
      await this.#record(name);
      if (this.#active.has(name)) throw new SluiceError(ServiceErrorCodes.jobRunning, `job "${name}" is already running: nothing to resume`);
      const record = (await this.#registry.update(name, { state: 'running', lastError: undefined }, this.#now())) as JobRecord;
      await this.#start(record);
      return this.#status(name);
    });
  }

  /** The job's checkpoints and savepoints in the store, newest first. */
  async checkpoints(name: string): Promise<CheckpointInfo[]> {
    const list = await this.#store.list(name);
    if (list.length === 0 && (await this.#registry.get(name)) === undefined) throw jobNotFound(name);
    return list;
  }

  /** Exports one checkpoint (default: the newest valid one) as a JSON-safe document. */
  async backup(name: string, id?: number): Promise<BackupDocument> {
    const list = await this.checkpoints(name);
    const chosen = id === undefined ? list.find((c) => c.status === 'valid') : list.find((c) => c.id === id);
    if (chosen === undefined) {
      throw new SluiceError(
        'SLUICE_CHECKPOINT_NOT_FOUND',
        id === undefined
          ? `job "${name}" has no valid checkpoint to back up; take one with \`sluice savepoint ${name}\``
          : `job "${name}" has no checkpoint ${id}; list them with \`sluice checkpoints ${name}\``,
      );
    }
    const file = await this.#tempFile('backup');
    try {
      await this.#store.exportTo(name, chosen.id, file);
      const data = (await readFile(file)).toString('base64');
      return { format: 'sluice-checkpoint-backup', version: 1, job: name, checkpoint: chosen.id, kind: chosen.kind, timestamp: chosen.timestamp, totalBytes: chosen.totalBytes, data };
    } finally {
      await rm(file, { force: true });
    }
  }

  /**
   * Imports a backup as a new savepoint of the job; the job's next start restores it. A running job restarts from it
   * right away (what it did since its last checkpoint is replaced by the backup's state).
   */
  async restore(name: string, document: unknown): Promise<{ job: JobStatus; savepoint: SavepointInfo }> {
    const bytes = backupBytes(document);
    return this.#withLock(name, async () => {
      await this.#record(name);
      const file = await this.#tempFile('restore');
      let manifest: CheckpointManifest;
      try {
        await writeFile(file, bytes);
        manifest = await this.#store.importFrom(file, { job: name });
      } finally {
        await rm(file, { force: true });
      }
      this.#logger.info({ job: name, savepoint: manifest.id }, `restored a backup of job "${name}" as savepoint ${manifest.id}`);
      const active = this.#active.get(name);
      if (active !== undefined) await this.#stopActive(name, active, undefined, false);
      const record = (await this.#registry.update(
        name,
        { startFrom: { from: 'checkpoint', id: manifest.id }, sourceStart: undefined, lastSavepoint: { id: manifest.id, takenAt: manifest.timestamp } },
        this.#now(),
      )) as JobRecord;
      if (active !== undefined) await this.#start(record);
      return { job: await this.#status(name), savepoint: describe(manifest) };
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
      const active = this.#active.get(name);
      if (active !== undefined) await this.#stopActive(name, active, undefined, false);
      const deleted = (await this.#store.list(name)).length;
      await this.#store.deleteAll(name);
      const record = (await this.#registry.update(name, { startFrom: { from: 'none' }, sourceStart: 'earliest', lastSavepoint: undefined }, this.#now())) as JobRecord;
      this.#logger.info({ job: name, deleted }, `cleared ${deleted} checkpoint(s) of job "${name}"; it reprocesses from the earliest positions`);
      if (active !== undefined) await this.#start(record);
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
      if (this.#active.has(name)) {
        throw new SluiceError(
          ServiceErrorCodes.jobRunning,
          `job "${name}" is ${record.state === 'running' ? 'running' : record.state}: cancel or stop it first (sluice cancel ${name}), then delete it`,
        );
      }
      let checkpointsDeleted = 0;
      if (options.checkpoints) {
        checkpointsDeleted = (await this.#store.list(name)).length;
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
      const active = this.#active.get(name);
      if (active !== undefined) {
        if (active.checkpointing) {
          await active.runner.checkpoint('checkpoint').catch((err: unknown) => {
            this.#logger.warn({ job: name, err: (err as Error)?.message }, 'checkpoint before catch-up failed; the previous checkpoint\'s state is used');
          });
        }
        await this.#stopActive(name, active, undefined, false);
      }
      const record = (await this.#registry.update(name, { startFrom: { from: 'latest' }, sourceStart: 'latest' }, this.#now())) as JobRecord;
      if (active !== undefined) await this.#start(record);
      return this.#status(name);
    });
  }

  /** Stops every running job without changing its registered state, so the next service start resumes it. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#active.entries()].map(async ([, active]) => {
      active.endAs = undefined;
      active.runner.cancel('stopped because the service shuts down');
      await active.done;
    }));
    for (const tracker of this.#trackers.values()) tracker.stop();
  }

  async #start(record: JobRecord, loaded?: JobDefinition): Promise<void> {
    if (this.#closing) throw new SluiceError('SLUICE_SERVICE_CLOSING', 'the service is shutting down; the job starts again with the service');
    const job = loaded ?? (await this.#loader.load(record.file));
    if (job.options.name !== record.name) {
      throw new SluiceError(ServiceErrorCodes.jobNameChanged, `job file ${record.file} now defines job "${job.options.name}", not "${record.name}": submit it as a new job, or give it its old name back`);
    }
    const runner = new JobRunner({
      job,
      params: new JobParams(Object.entries(record.params)),
      ...(record.parallelism === undefined ? {} : { parallelism: record.parallelism }),
      // Workers import the job file themselves; the plan fingerprint catches a file edited since it was loaded.
      jobModule: record.file,
      ...workersOption(record.workers ?? this.#workers),
      store: this.#store,
      restore: record.startFrom,
      allowNonRestoredState: record.allowNonRestoredState,
      ...(record.sourceStart === undefined ? {} : { sourceStart: record.sourceStart }),
      logger: this.#logger,
    });
    const checkpoints = job.options.checkpoints;
    const active: ActiveJob = {
      runner,
      startedAt: this.#now(),
      checkpointing: checkpoints !== undefined && checkpoints !== false,
      done: Promise.resolve(),
      endAs: undefined,
      startSettled: record.startFrom.from === 'latest' && record.sourceStart === undefined,
    };
    this.#tracker(record.name).follow(runner);
    let started!: () => void;
    const attemptStarted = new Promise<void>((resolve) => (started = resolve));
    const subscription = runner.events.subscribe((event) => this.#onEvent(record.name, active, event, started));
    this.#active.set(record.name, active);
    const run = runner.run();
    active.done = run.then(
      (outcome) => this.#ended(record.name, active, outcome, undefined),
      (err: unknown) => this.#ended(record.name, active, 'failed', err),
    ).finally(() => subscription.unsubscribe());
    // The caller learns whether the job came up: restore problems (wrong maxParallelism, missing state) surface here.
    await Promise.race([attemptStarted, run.then(() => undefined)]);
  }

  #onEvent(name: string, active: ActiveJob, event: JobEvent, started: () => void): void {
    switch (event.type) {
      case 'attempt-started':
        started();
        break;
      case 'checkpoint-completed':
        if (!active.startSettled) {
          active.startSettled = true;
          void this.#registry.update(name, { startFrom: { from: 'latest' }, sourceStart: undefined }, this.#now()).catch((err: unknown) => this.#logger.warn({ job: name, err }, 'registry update failed'));
        }
        break;
      case 'rescaled': {
        const rescale = event.rescale;
        const change = (current: JobRecord) => ({ parallelism: rescale.to, rescales: [...(current.rescales ?? []), rescale].slice(-RESCALE_HISTORY) });
        void this.#registry.update(name, change, this.#now()).catch((err: unknown) => this.#logger.warn({ job: name, err }, 'registry update failed'));
        break;
      }
        break;
      default:
    }
  }

  async #ended(name: string, active: ActiveJob, outcome: 'finished' | 'cancelled' | 'failed', error: unknown): Promise<void> {
    if (this.#active.get(name) === active) this.#active.delete(name);
    this.#tracker(name).stop();
    if (outcome === 'failed' && active.runner.attempts === 0) this.#tracker(name).recordException(error);
    try {
      if (outcome === 'finished') await this.#registry.update(name, { state: 'finished' }, this.#now());
      else if (outcome === 'failed') await this.#registry.update(name, { state: 'failed', lastError: (error as Error)?.message ?? String(error) }, this.#now());
      else if (active.endAs !== undefined) await this.#registry.update(name, { state: active.endAs }, this.#now());
    } catch (err) {
      this.#logger.error({ job: name, err: (err as Error)?.message }, 'could not record the end of a job in the registry');
    }
    this.#logger.info({ job: name, outcome }, `job "${name}" ${outcome}`);
  }

  /** Ends a run: with a savepoint (returned) or a plain cancel; resolves once the runner has stopped. */
  async #stopActive(name: string, active: ActiveJob, endAs: RegisteredState | undefined, withSavepoint: boolean): Promise<CheckpointManifest | undefined> {
    active.endAs = endAs;
    let savepoint: CheckpointManifest | undefined;
    if (withSavepoint) {
      try {
        savepoint = await active.runner.stopWithSavepoint();
      } catch (err) {
        active.endAs = undefined;
        throw err;
      }
    } else {
      active.runner.cancel(endAs === undefined ? 'stopped to restart' : `${endAs} by the user`);
    }
    await active.done;
    this.#logger.info({ job: name, endAs, savepoint: savepoint?.id }, `job "${name}" stopped`);
    return savepoint;
  }

  #requireCheckpointing(name: string, active: ActiveJob, what: string): void {
    if (active.checkpointing) return;
    throw new SluiceError(
      'SLUICE_CHECKPOINTS_DISABLED',
      `job "${name}" does not take checkpoints, so it cannot be ${what}: enable checkpoints in its defineJob options, or use sluice cancel`,
    );
  }

  /** Checks `--from` before anything stops: a checkpoint id must exist, a savepoint file must be readable. */
  async #checkFrom(name: string, from: string | undefined): Promise<{ kind: 'latest' } | { kind: 'id'; id: number } | { kind: 'file'; path: string }> {
    if (from === undefined || from === 'latest') return { kind: 'latest' };
    if (/^\d+$/.test(from)) {
      const id = Number(from);
      if (!(await this.#store.list(name)).some((c) => c.id === id)) {
        throw new SluiceError(ServiceErrorCodes.restorePointNotFound, `job "${name}" has no checkpoint or savepoint ${id} to restore from; list them with \`sluice checkpoints ${name}\``);
      }
      return { kind: 'id', id };
    }
    const path = resolve(from);
    try {
      await access(path);
    } catch {
      throw new SluiceError(ServiceErrorCodes.savepointFileNotFound, `savepoint file ${path} does not exist on the service's filesystem; give the path of a file written by \`sluice checkpoint backup\` or a checkpoint export, or --from latest|<checkpoint id>`);
    }
    return { kind: 'file', path };
  }

  /** Imports a savepoint file: a checkpoint export (msgpack) or a `sluice checkpoint backup` JSON document. */
  async #importFile(name: string, path: string): Promise<CheckpointManifest> {
    const head = await readFile(path);
    if (head[0] !== 0x7b /* '{' */) return this.#store.importFrom(path, { job: name });
    let document: unknown;
    try {
      document = JSON.parse(head.toString('utf8'));
    } catch {
      throw badRequest(`savepoint file ${path} starts like JSON but is not: give a checkpoint export or a file written by \`sluice checkpoint backup\``);
    }
    const file = await this.#tempFile('from');
    try {
      await writeFile(file, backupBytes(document));
      return await this.#store.importFrom(file, { job: name });
    } finally {
      await rm(file, { force: true });
    }
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

  #summary(record: JobRecord): JobSummary {
    const active = this.#active.get(record.name);
    const tracker = this.#trackers.get(record.name);
    return {
      name: record.name,
      state: active === undefined ? record.state : active.runner.state === 'created' ? 'starting' : active.runner.state,
      parallelism: active?.runner.plan.parallelism ?? record.parallelism ?? null,
      workers: active === undefined || active.runner.attempts === 0 ? null : active.runner.workers,
      attempt: active === undefined ? null : active.runner.attempts,
      uptimeMs: active === undefined ? null : this.#now() - active.startedAt,
      lastCheckpoint: tracker?.checkpoints()[0] ?? null,
      file: record.file,
    };
  }

  async #status(name: string): Promise<JobStatus> {
    const record = await this.#record(name);
    const active = this.#active.get(name);
    const tracker = this.#tracker(name);
    return {
      ...this.#summary(record),
      registeredState: record.state,
      params: redactSecrets(record.params),
      startedAt: active?.startedAt ?? null,
      submittedAt: record.submittedAt,
      startFrom: record.startFrom,
      sourceStart: record.sourceStart ?? null,
      lastSavepoint: record.lastSavepoint ?? null,
      lastError: record.lastError ?? null,
      operators: tracker.stages(),
      checkpoints: tracker.checkpoints(),
      exceptions: tracker.exceptions(),
      sourceLag: active?.runner.sourceLag() ?? [],
      // The registry's history survives service restarts; the tracker's covers a record written before it had one.
      rescales: record.rescales ?? tracker.rescales(),
    };
  }

  async #tempFile(purpose: string): Promise<string> {
    const dir = join(this.#dataDir, 'tmp');
    await mkdir(dir, { recursive: true });
    return join(dir, `${purpose}-${process.pid}-${this.#now()}-${Math.random().toString(36).slice(2)}.bin`);
  }

  async #withLock<T>(name: string, action: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    const result = previous.then(action, action);
    const tail = result.catch(() => undefined);
    this.#locks.set(name, tail);
    void tail.then(() => {
      if (this.#locks.get(name) === tail) this.#locks.delete(name);
    });
    return result;
  }
}

function describe(manifest: CheckpointManifest): SavepointInfo {
  return { id: manifest.id, kind: manifest.kind, timestamp: manifest.timestamp, durationMs: manifest.durationMs, totalBytes: manifest.totalBytes };
}

function notRunning(name: string, state: RegisteredState, what: string): SluiceError {
  const hint = state === 'paused' || state === 'stopped' ? ` (resume it with \`sluice resume ${name}\`)` : '';
  return new SluiceError(ServiceErrorCodes.jobNotRunning, `job "${name}" is ${state}, not running: cannot ${what} it${hint}`);
}

/** Checks a backup document's shape and returns its export bytes. */
function backupBytes(document: unknown): Buffer {
  const doc = document as Partial<BackupDocument> | null;
  if (typeof doc !== 'object' || doc === null || doc.format !== 'sluice-checkpoint-backup' || doc.version !== 1) {
    throw badRequest('the request body is not a checkpoint backup: expected the JSON written by `sluice checkpoint backup` ({ "format": "sluice-checkpoint-backup", "version": 1, ... })');
  }
  if (typeof doc.data !== 'string' || doc.data === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(doc.data)) {
    throw badRequest('the backup\'s "data" field must be the base64 of a checkpoint export');
  }
  return Buffer.from(doc.data, 'base64');
}

/** `workers` for a JobRunner: absent leaves the runner's one-per-core default. */
function workersOption(workers: number | undefined): { workers?: number } {
  return workers === undefined ? {} : { workers };
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobParams, type JobDefinition } from '../api/index.ts';
import { CheckpointStore, type CheckpointManifest, type CheckpointStoreOptions } from '../checkpoint/index.ts';
import { SluiceError } from '../errors/index.ts';
import { readKeyedState, type KeyedStateEntry, type ReadKeyedStateOptions } from '../inspect/keyed-state-reader.ts';
import { readOperatorState, type OperatorStateEntry } from '../inspect/operator-state-reader.ts';
import type { LoadedCheckpoint } from '../checkpoint/store-layout.ts';
import type { RestartStrategyConfig } from '../failover/index.ts';
import { silentLogger, type Logger } from '../logging/index.ts';
import { JobRunner, type JobEvent } from '../runner/index.ts';
import { ManualClock, systemClock, type Clock } from '../time/index.ts';
import { FaultInjector, type FaultOptions, type FaultReport } from './fault-injector.ts';
import { instrumentJob, type SinkEntry } from './instrumented-job.ts';
import { TestingErrorCodes } from './testing-errors.ts';

/** Options of {@link startJob}. */
export interface StartJobOptions {
  /** Job parameters, as `sluice run --set key=value` gives them. */
  readonly params?: Readonly<Record<string, string>>;
  /** Overrides the job's default parallelism. */
  readonly parallelism?: number;
  /** Checkpoint directory; default a temporary one, removed by {@link JobRun.close}. */
  readonly dataDir?: string;
  /** Default silent. */
  readonly logger?: Logger;
  /**
   * `'manual'`: processing time stands still until {@link JobRun.advance} (timers, checkpoint interval, datagen
   * rates, restart delays follow it). Or any {@link Clock}. Default the system clock.
   */
  readonly clock?: 'system' | 'manual' | Clock;
  /** Overrides the job's `checkpoints.intervalMs` (a short one gives seeded faults more checkpoints to hit). */
  readonly checkpointIntervalMs?: number;
  /** Seeded faults; see {@link FaultOptions}. */
  readonly faults?: FaultOptions;
  /** Overrides the restart strategy. With faults the default restarts at once, once per planned fault and then some. */
  readonly restart?: RestartStrategyConfig;
  /**
   * Runs before each checkpoint store write with its operations (`CheckpointStoreOptions.beforeBatch`): throwing
   * fails that write midway, as a full disk would.
   */
  readonly beforeCheckpointWrite?: CheckpointStoreOptions['beforeBatch'];
}

/** Options of the waits of a {@link JobRun}. */
export interface WaitOptions {
  /** Real milliseconds before the wait rejects (`SLUICE_TESTING_TIMEOUT`); default 30,000. */
  readonly timeoutMs?: number;
}

/**
 * A job running in this process under the harness: its outcome, outputs, checkpoints, injected faults and (with a
 * manual clock) processing time. Created by {@link startJob}; close it when the test ends.
 *
 * @example
 * ```ts
 * const run = await startJob(job, { faults: { crashes: 2, seed: 7 } });
 * t.after(() => run.close());
 * await run.finished;
 * assert.equal(run.outputs('out').length, 1_000);
 * ```
 */
export class JobRun {
  /** The runner underneath, for anything the harness does not cover (metrics, rescale, savepoints). */
  readonly runner: JobRunner;
  /** Resolves `finished` when bounded sources are done, `cancelled` after {@link stop}; rejects if the job fails for good. */
  readonly finished: Promise<'finished' | 'cancelled'>;
  /** The manual clock, when the run was started with `clock: 'manual'`. */
  readonly clock: ManualClock | undefined;
  /** Completed checkpoints, oldest first. */
  readonly checkpoints: CheckpointManifest[] = [];
  /** Every control-plane event, in order (attempts, failures, checkpoints). */
  readonly events: JobEvent[] = [];
  readonly #injector: FaultInjector | undefined;
  readonly #sinks: () => readonly SinkEntry[];
  readonly #cleanup: () => Promise<void>;
  readonly #store: CheckpointStore | undefined;
  readonly #jobName: string;
  readonly #listeners = new Set<() => void>();
  /** Whether {@link advance} moved the clock already (the first move waits for the job to wait on it). */
  #clockInUse = false;
  #closed = false;

  /** @internal use {@link startJob} */
  constructor(parts: {
    runner: JobRunner;
    clock: ManualClock | undefined;
    injector: FaultInjector | undefined;
    sinks: () => readonly SinkEntry[];
    cleanup: () => Promise<void>;
    store?: CheckpointStore;
    jobName?: string;
  }) {
    this.runner = parts.runner;
    this.#store = parts.store;
    this.#jobName = parts.jobName ?? '';
    this.clock = parts.clock;
    this.#injector = parts.injector;
    this.#sinks = parts.sinks;
    this.#cleanup = parts.cleanup;
    this.runner.events.subscribe((event) => {
      this.events.push(event);
      if (event.type === 'checkpoint-completed') this.checkpoints.push(event.manifest);
      for (const listener of this.#listeners) listener();
    });
    this.finished = this.runner.run();
    // A test that awaits something else first must not see an unhandled rejection; awaiting `finished` still throws.
    this.finished.catch(() => undefined).finally(() => {
      for (const listener of this.#listeners) listener();
    });
  }

  /** What was planned and what fired; all empty without `faults`. */
  get faults(): FaultReport {
    return this.#injector?.report() ?? { seed: 0, planned: [], fired: [], pending: 0 };
  }

  /** Number of attempts so far (1 + restarts). */
  get attempts(): number {
    return this.runner.attempts;
  }

  /** Uids of the job's sinks, as {@link outputs} takes them. */
  get sinks(): string[] {
    return this.#sinks().map((s) => s.uid);
  }

  /**
   * What a `collectSink` committed (for a transactional run: only records of completed checkpoints), by the sink's
   * uid (`.uid('out')` in the job, else `sink-<n>`). Other sinks write outside the process: read them with
   * `readCommittedTopic`, `readIndexDocuments` or `readPartFiles`.
   */
  outputs<T = unknown>(sinkUid: string): T[] {
    const entry = this.#sinks().find((s) => s.uid === sinkUid);
    // collectSink(target) carries its CollectTarget; duck-typed so the runtime does not import a connector.
    const target = (entry?.sink as { target?: { records?: unknown } } | undefined)?.target;
    if (entry === undefined || !Array.isArray(target?.records)) {
      const known = this.#sinks().map((s) => `"${s.uid}" (${s.sink.name})`).join(', ') || 'none yet (the job has not been built)';
      throw new SluiceError(
        TestingErrorCodes.unknownSink,
        entry === undefined
          ? `the job has no sink with uid "${sinkUid}"; its sinks: ${known}. Give the sink a uid with .sink(...).uid("${sinkUid}")`
          : `sink "${sinkUid}" is a ${entry.sink.name} sink; outputs() reads collectSink sinks only: read Kafka with readCommittedTopic, Elasticsearch with readIndexDocuments, files with readPartFiles`,
      );
    }
    return [...(target?.records as T[])];
  }

  /**
   * The keyed state of operator `operatorUid` in a completed checkpoint (default: the newest), as a restore would see
   * it: one entry per key and state, a map state's value a `Map` (what `sluice state` prints). Read it once the job
   * finished or stopped: while it runs, retention may delete the blobs of a checkpoint being read
   * (`SLUICE_CHECKPOINT_CORRUPT`). Throws `SLUICE_INVALID_OPTION` before the first checkpoint (or without any) and
   * `SLUICE_STATE_NO_KEYED_STATE` for an operator without keyed state.
   *
   * @example
   * ```ts
   * await run.finished;
   * const counts = await run.keyedState('totals-per-user', { state: 'count', keys: ['u17'] });
   * assert.deepEqual(counts.map((e) => e.value), [42]);
   * ```
   */
  async keyedState(operatorUid: string, options: ReadKeyedStateOptions & { readonly checkpoint?: number } = {}): Promise<KeyedStateEntry[]> {
    const checkpoint = await this.#checkpointToRead('keyedState', options.checkpoint);
    const entries: KeyedStateEntry[] = [];
    for await (const entry of readKeyedState(checkpoint, operatorUid, options)) entries.push(entry);
    return entries;
  }

  /**
   * The operator state of operator `operatorUid` in a completed checkpoint (default: the newest), one entry per
   * subtask that stored some, as the operator stored it: broadcast state as `{ name: [[key, value], …] }` (stored by
   * subtask 0), a sink's pending transactions, the records a window or an `asyncMap` holds. Read it as
   * {@link keyedState} is read; throws as it does, and `SLUICE_STATE_NO_OPERATOR_STATE` for an operator without any.
   *
   * @example
   * ```ts
   * await run.finished;
   * const [stored] = await run.operatorState('price');
   * assert.deepEqual(stored.state, { rates: [['USD', 0.875]] });
   * ```
   */
  async operatorState(operatorUid: string, options: { readonly checkpoint?: number } = {}): Promise<OperatorStateEntry[]> {
    const checkpoint = await this.#checkpointToRead('operatorState', options.checkpoint);
    const entries: OperatorStateEntry[] = [];
    for await (const entry of readOperatorState(checkpoint, operatorUid)) entries.push(entry);
    return entries;
  }

  /** Checkpoint `id` (default: the newest completed), each blob checked as it is read; `method` names the caller in errors. */
  async #checkpointToRead(method: string, id = this.checkpoints.at(-1)?.id): Promise<LoadedCheckpoint> {
    const store = this.#store;
    if (store === undefined || id === undefined) {
      throw new SluiceError(
        TestingErrorCodes.invalidOption,
        store === undefined ? `${method}() reads checkpoints: the job takes none; enable checkpoints in defineJob` : `${method}() reads checkpoints: none has completed yet; wait for one (until(() => run.checkpoints.length > 0))`,
        { retriable: false },
      );
    }
    return store.load(this.#jobName, id, { checkAsRead: true });
  }

  /**
   * Moves the manual clock forward by `ms` (timers, checkpoint triggers and rates that fall due fire, in order), then
   * lets the job run until it has nothing left to do now.
   *
   * @example
   * ```ts
   * const run = startJob(job, { clock: 'manual' });
   * await run.advance(60_000); // a one-minute processing-time timer fires
   * ```
   */
  async advance(ms: number): Promise<void> {
    if (this.clock === undefined) {
      throw new SluiceError(TestingErrorCodes.noManualClock, 'advance() needs a run started with startJob(job, { clock: "manual" })');
    }
    if (!this.#clockInUse) await this.#started();
    // Subtasks woken by the last move may still be on their way to their next wait; a timer they set after the move
    // would be due later than meant.
    await settle();
    this.clock.advance(ms);
    await settle();
  }

  /**
   * Before time first moves: waits until the job's first attempt has opened every subtask (state restored, sources
   * started), or the job ended, for at most {@link START_PATIENCE_MS}. A job still starting — the LevelDB backend
   * reserves and opens its working database first — has not started its sources yet, and a rate-limited source
   * paces itself from the time it starts: time moved before that would pass it by, and the test would wait for
   * records that are due a step later.
   */
  async #started(): Promise<void> {
    this.#clockInUse = true;
    let ended = false;
    void this.finished.catch(() => undefined).finally(() => (ended = true));
    const opened = (): boolean => {
      const subtasks = this.runner.subtaskMetrics();
      return subtasks.length > 0 && subtasks.every((s) => s.metrics.opened);
    };
    const deadline = performance.now() + START_PATIENCE_MS;
    while (!ended && !opened() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  /**
   * Resolves once `condition` holds, checked after every job event and every few milliseconds; rejects when the job
   * ends first (with its failure, if it failed) or the deadline passes.
   *
   * @example
   * ```ts
   * await run.until(() => run.outputs('out').length >= 100);
   * ```
   */
  until(condition: () => boolean, options: WaitOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      let ended = false;
      const check = (): void => {
        let ok: boolean;
        try {
          ok = condition();
        } catch (err) {
          done(err);
          return;
        }
        if (ok) done();
        else if (ended) done(new SluiceError(TestingErrorCodes.timeout, `the job ended (${this.runner.state}) before the awaited condition held`));
      };
      const poll = setInterval(check, 10);
      const deadline = setTimeout(() => done(new SluiceError(TestingErrorCodes.timeout, `the awaited condition did not hold within ${timeoutMs} ms (job ${this.runner.state}, ${this.checkpoints.length} checkpoints, ${this.faults.fired.length} faults fired)`)), timeoutMs);
      const done = (err?: unknown): void => {
        clearInterval(poll);
        clearTimeout(deadline);
        this.#listeners.delete(check);
        if (err === undefined) resolve();
        else reject(err);
      };
      this.#listeners.add(check);
      this.finished.then(
        () => {
          ended = true;
          check();
        },
        (err: unknown) => {
          ended = true;
          try {
            if (condition()) return done();
          } catch {
            // the job's failure says more
          }
          done(err);
        },
      );
      check();
    });
  }

  /**
   * Resolves with the first completed checkpoint whose source positions reach `ends`: per source uid, per split, the
   * position to reach (Kafka: the next offset, i.e. the partition's end offset; datagen/collection: the record count
   * of the split). What that checkpoint covers is in the sinks' committed output once the next checkpoint completes.
   *
   * @example
   * ```ts
   * await run.untilCheckpointCovers({ clicks: { 'clicks-0': 500, 'clicks-1': 500 } });
   * ```
   */
  async untilCheckpointCovers(ends: Readonly<Record<string, Readonly<Record<string, number>>>>, options: WaitOptions = {}): Promise<CheckpointManifest> {
    let found: CheckpointManifest | undefined;
    await this.until(() => {
      found = this.checkpoints.find((m) => covers(m, ends));
      return found !== undefined;
    }, options);
    return found as CheckpointManifest;
  }

  /** Cancels the job (sinks abort what no checkpoint covers) and resolves with how it ended. */
  async stop(): Promise<'finished' | 'cancelled'> {
    this.runner.cancel('stopped by the test');
    return this.finished;
  }

  /** Stops the job if it still runs and removes the temporary checkpoint directory. Idempotent; use in `t.after`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.runner.cancel('closed by the test');
    await this.finished.catch(() => undefined);
    await this.#cleanup();
  }
}

/** True when every split named in `ends` is at or past its end in `manifest`. */
export function covers(manifest: CheckpointManifest, ends: Readonly<Record<string, Readonly<Record<string, number>>>>): boolean {
  for (const [uid, splits] of Object.entries(ends)) {
    const positions = manifest.sourcePositions[uid] ?? [];
    for (const [split, end] of Object.entries(splits)) {
      const position = positions.find((p) => p.split === split)?.position;
      if (!(Number(position) >= end)) return false;
    }
  }
  return true;
}

/**
 * Starts `job` in this process under the harness and returns at once; await {@link JobRun.finished} for a bounded
 * job, or wait with {@link JobRun.until} / {@link JobRun.untilCheckpointCovers} and {@link JobRun.stop} an unbounded
 * one. With `faults`, sources and sinks are wrapped and the attempt is failed at seeded points; `run.faults` reports
 * what fired.
 *
 * @example
 * ```ts
 * import { defineJob } from 'sluice';
 * import { collectSink, datagen } from 'sluice/dev';
 * import { startJob } from 'sluice/testing';
 *
 * const job = defineJob({ name: 'squares', checkpoints: { intervalMs: 50 } }, (env) => {
 *   env.source(datagen({ count: 10_000, batchSize: 100, record: (i) => i })).map((i) => i * i).sink(collectSink()).uid('out');
 * });
 * const run = await startJob(job, { faults: { crashes: 3, seed: 42 } });
 * t.after(() => run.close());
 * await run.finished;
 * assert.equal(run.outputs('out').length, 10_000); // no loss, no duplicate, despite 3 crashes
 * assert.equal(run.faults.fired.length, 3);
 * ```
 */
export async function startJob(job: JobDefinition, options: StartJobOptions = {}): Promise<JobRun> {
  const logger = options.logger ?? silentLogger();
  const clock = options.clock === 'manual' ? new ManualClock(0) : options.clock === undefined || options.clock === 'system' ? systemClock : options.clock;
  const injector = options.faults === undefined || options.faults.crashes === 0 ? undefined : new FaultInjector(options.faults);
  let sinks: readonly SinkEntry[] = [];
  const checkpoints = job.options.checkpoints;
  const withInterval: JobDefinition =
    options.checkpointIntervalMs === undefined || checkpoints === undefined || checkpoints === false
      ? job
      : { ...job, options: Object.freeze({ ...job.options, checkpoints: { ...checkpoints, intervalMs: options.checkpointIntervalMs } }) };
  const instrumented = instrumentJob(withInterval, injector, (built) => (sinks = built));
  const checkpointing = checkpoints !== undefined && checkpoints !== false;
  if (injector !== undefined && !checkpointing) {
    throw new SluiceError(TestingErrorCodes.invalidOption, `job "${job.options.name}" takes no checkpoints, so a fault cannot be recovered from: enable checkpoints in defineJob or run without faults`, { retriable: false });
  }
  const temporary = checkpointing && options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'sluice-test-')) : undefined;
  const dataDir = options.dataDir ?? temporary;
  const store =
    checkpointing && dataDir !== undefined
      ? await CheckpointStore.open(dataDir, { logger, ...(options.beforeCheckpointWrite === undefined ? {} : { beforeBatch: options.beforeCheckpointWrite }) })
      : undefined;
  const restart: RestartStrategyConfig | undefined =
    options.restart ?? (injector === undefined ? undefined : { type: 'fixed-delay', attempts: injector.report().planned.length + 3, delayMs: 0 });
  const cleanup = async (): Promise<void> => {
    await store?.close();
    if (temporary !== undefined) await rm(temporary, { recursive: true, force: true });
  };
  let runner: JobRunner;
  try {
    runner = new JobRunner({
      job: instrumented,
      params: new JobParams(Object.entries(options.params ?? {})),
      ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
      ...(store === undefined ? {} : { store }),
      ...(restart === undefined ? {} : { restartStrategy: restart }),
      ...(injector === undefined
        ? {}
        : {
            beforeCheckpointStore: (id: number) => {
              const fault = injector.beforeStore(id);
              if (fault !== undefined) throw fault;
            },
          }),
      clock,
      logger,
    });
  } catch (err) {
    await cleanup();
    throw err;
  }
  const run = new JobRun({ runner, clock: clock instanceof ManualClock ? clock : undefined, injector, sinks: () => sinks, cleanup, jobName: job.options.name, ...(store === undefined ? {} : { store }) });
  if (run.clock !== undefined) {
    // Readers read the clock when they start (rates count from there): time moved before that would be lost.
    await run.until(() => run.events.some((e) => e.type === 'attempt-started')).catch(() => undefined);
    await settle();
  }
  return run;
}

/** Lets every subtask woken by a clock move run until it waits again (a few macrotask turns). */
/** How long the first {@link JobRun.advance} waits, at most, for the job's subtasks to open. */
const START_PATIENCE_MS = 5_000;

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

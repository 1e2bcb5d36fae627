import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobParams, type JobDefinition } from '../api/index.ts';
import { CheckpointStore } from '../checkpoint/index.ts';
import { silentLogger, type Logger } from '../logging/index.ts';
import { JobRunner } from '../runner/index.ts';

/** Options of {@link runJob}. */
export interface RunJobOptions {
  /** Job parameters, as `sluice run --set key=value` would give them. */
  readonly params?: Readonly<Record<string, string>>;
  /** Overrides the job's default parallelism. */
  readonly parallelism?: number;
  /**
   * Where a checkpointing job keeps its checkpoints. Default: a temporary directory removed after the run, so every
   * run starts fresh; give a directory to test that a second run resumes from the first one's checkpoints.
   */
  readonly dataDir?: string;
  /** Default: silent. */
  readonly logger?: Logger;
}

/**
 * Runs a job in this process until its bounded sources are exhausted, as `sluice run` would, and resolves with how
 * it ended. A job that fails for good rejects with its error. For tests: give the job a `collection(...)` source and
 * a `collectSink(target)` and assert on `target.records` afterwards.
 *
 * @example
 * ```ts
 * import { defineJob } from 'sluice';
 * import { collection, collectSink, CollectTarget } from 'sluice/dev';
 * import { runJob } from 'sluice/testing';
 *
 * const target = new CollectTarget<number>();
 * await runJob(defineJob({ name: 'double' }, (env) => {
 *   env.source(collection([1, 2, 3])).map((n) => n * 2).sink(collectSink(target));
 * }));
 * // target.records: [2, 4, 6]
 * ```
 */
export async function runJob(job: JobDefinition, options: RunJobOptions = {}): Promise<'finished' | 'cancelled'> {
  const logger = options.logger ?? silentLogger();
  const checkpointing = job.options.checkpoints !== undefined && job.options.checkpoints !== false;
  // JobRunner needs a store only when the job checkpoints; a temporary one keeps test runs independent.
  const temporary = checkpointing && options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'sluice-run-job-')) : undefined;
  const dataDir = options.dataDir ?? temporary;
  const store = checkpointing && dataDir !== undefined ? await CheckpointStore.open(dataDir, { logger }) : undefined;
  try {
    const runner = new JobRunner({
      job,
      params: new JobParams(Object.entries(options.params ?? {})),
      ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
      ...(store === undefined ? {} : { store }),
      logger,
    });
    return await runner.run();
  } finally {
    await store?.close();
    if (temporary !== undefined) await rm(temporary, { recursive: true, force: true });
  }
}

import { SluiceError } from '../errors/index.ts';
import type { PhysicalPlan } from '../graph/index.ts';
import { usableCores } from './usable-cores.ts';

/** Why an attempt runs where it runs; logged once per attempt and shown by `sluice status`. */
export interface WorkerCount {
  /** Worker threads of the attempt; 0 runs every subtask in the calling thread. */
  readonly workers: number;
  /** `requested`: set by the caller or the job; `default`: the process's usable cores, capped by the plan. */
  readonly source: 'requested' | 'default';
}

/** What decides the worker count of one attempt. */
export interface WorkerCountInput {
  /** `--workers`, the runner's option or the job's `workers`, whichever was set first; undefined for the default. */
  readonly requested: number | undefined;
  readonly plan: PhysicalPlan;
  /**
   * Whether workers can run this job at all: they import the job's module and keep the system clock, so a job
   * built in the caller's code (no module) or driven by an injected clock runs in-process by default.
   */
  readonly canUseWorkers: boolean;
  /** The cores this process may use: {@link usableCores} (affinity and cgroup CPU limit) unless a test says otherwise. */
  readonly cores?: number;
}

/**
 * Worker threads for one attempt of a job. The default is one per usable core ({@link usableCores}: a container's
 * CPU limit counts), capped by the largest stage parallelism (slot sharing places subtask `i` of every stage on
 * worker `i mod W`, so more workers than subtasks would idle).
 * A requested count is capped the same way; 0 means in-process. Recomputed per attempt, so a rescale re-places.
 *
 * @example
 * ```ts
 * workerCount({ requested: undefined, plan, canUseWorkers: true }); // { workers: 2, source: 'default' } on 2 cores
 * ```
 */
export function workerCount(input: WorkerCountInput): WorkerCount {
  const widest = Math.max(1, ...input.plan.stages.map((s) => s.parallelism));
  const { requested } = input;
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 0) {
      throw new SluiceError('SLUICE_INVALID_OPTION', `workers of job "${input.plan.job}" must be a whole number ≥ 0 (0 runs in-process), got ${String(requested)}`, {
        retriable: false,
      });
    }
    return { workers: Math.min(requested, widest), source: 'requested' };
  }
  if (!input.canUseWorkers) return { workers: 0, source: 'default' };
  return { workers: Math.min(input.cores ?? usableCores(), widest), source: 'default' };
}

/**
 * Whether an attempt on `workers` worker threads leaves the main thread a core of its own. Then heap subtasks on the
 * workers send deltas for full checkpoints and the main thread merges them into full blobs (docs/checkpoints.md):
 * measured 2× faster at p = 1 on one worker of two cores; with every core running a worker, the merge took CPU from
 * the workers and the same job at p = 2 on two workers ran ~15 % slower than with full snapshots taken on them.
 *
 * @example
 * ```ts
 * leavesMainThreadACore(1, 2); // true: one worker on two cores
 * ```
 */
export function leavesMainThreadACore(workers: number, cores: number = usableCores()): boolean {
  return workers > 0 && workers < cores;
}

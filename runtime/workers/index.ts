/**
 * Real parallelism (issue 15): an attempt whose subtasks run on worker threads. `WorkerAttempt` has the surface of
 * the in-process `JobAttempt` (`RunningAttempt`), so the runner and the checkpoint coordinator drive either; the
 * runner picks it when `workers ≥ 1` (JobOptions, JobRunnerOptions, `sluice run --workers`).
 *
 * - Placement: subtask `i` of every stage on worker `i mod W` (Flink slot sharing): forward chains never cross threads.
 * - Plans: functions cannot be sent, so each worker imports the job module and builds the plan; a plan fingerprint
 *   (plan-fingerprint.ts) that differs from the main thread's fails the attempt before anything opens.
 * - Records between workers go through runtime/exchange (one MessageChannel per pair of workers, credit-based flow
 *   control); inside a worker, through the in-process `Channel`.
 * - Checkpoints: coordinated on the main thread; workers snapshot their subtasks and transfer the bytes; the main
 *   thread writes the store. Sinks pre-commit and commit in their worker.
 * - The control conversation is in worker-protocol.ts.
 *
 * @example
 * ```ts
 * const runner = new JobRunner({ job, store, workers: 2, jobModule: pathToFileURL('jobs/count.ts').href });
 * await runner.run();
 * ```
 */
export { WorkerAttempt, WorkerErrorCodes, DEFAULT_REMOTE_CHANNEL_CAPACITY_BYTES } from './worker-attempt.ts';
export type { WorkerAttemptOptions } from './worker-attempt.ts';
export { planFingerprint, firstDifference } from './plan-fingerprint.ts';
export { workerOf } from './placement.ts';
export { leavesMainThreadACore, workerCount } from './worker-count.ts';
export { usableCores, cgroupCpuLimit } from './usable-cores.ts';
export type { CpuLimitSources } from './usable-cores.ts';
export type { WorkerCount, WorkerCountInput } from './worker-count.ts';

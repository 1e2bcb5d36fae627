/**
 * What `sluice list` and `sluice status` (and their REST routes) show of a job: its registry record, joined with the
 * run in progress (if any) and the tracker's history of metrics, checkpoints, exceptions and rescales.
 */
import type { JobRunner } from '../runner/index.ts';
import type { JobRecord } from './job-registry.ts';
import type { JobTracker } from './job-tracker.ts';
import { redactSecrets } from './redact.ts';
import type { JobStatus, JobSummary } from './supervisor-api.ts';

/** The run in progress of a job, as far as views need it. */
export interface RunningJobView {
  readonly runner: JobRunner;
  readonly startedAt: number;
}

/** One line of `sluice list`. */
export function jobSummary(record: JobRecord, active: RunningJobView | undefined, tracker: JobTracker | undefined, now: number): JobSummary {
  return {
    name: record.name,
    state: active === undefined ? record.state : active.runner.state === 'created' ? 'starting' : active.runner.state,
    parallelism: active?.runner.plan.parallelism ?? record.parallelism ?? null,
    workers: active === undefined || active.runner.attempts === 0 ? null : active.runner.workers,
    attempt: active === undefined ? null : active.runner.attempts,
    uptimeMs: active === undefined ? null : now - active.startedAt,
    recordsInPerSecond: active === undefined ? null : (tracker?.stages()[0]?.recordsInPerSecond ?? 0),
    lastCheckpoint: tracker?.checkpoints()[0] ?? null,
    file: record.file,
  };
}

/** All of `sluice status`: the summary, the registered settings (secrets redacted) and the tracker's history. */
export function jobStatus(record: JobRecord, active: RunningJobView | undefined, tracker: JobTracker, now: number): JobStatus {
  return {
    ...jobSummary(record, active, tracker, now),
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
    failedCheckpoints: tracker.failedCheckpoints(),
    exceptions: tracker.exceptions(),
    sourceLag: active?.runner.sourceLag() ?? [],
    // The registry's history survives service restarts; the tracker's covers a record written before it had one.
    rescales: record.rescales ?? tracker.rescales(),
  };
}

import type { RegisteredState } from '../service/job-registry.ts';
import type { JobStatus } from '../service/supervisor-api.ts';
import type { ClusterJobSpec } from './jobs/cluster-job-spec.ts';
import type { ClusterJobStatus } from './jobs/status-log.ts';

/**
 * `GET /v1/jobs/{name}` of a cluster job that no member runs now — paused, cancelled, failed, finished, or waiting
 * for a member — from what the jobs and status topics hold, in the shape `sluice status` reads. What only a run has
 * (rates, operators, lag, exceptions) is empty; the last replicated checkpoint is the owner's last report.
 *
 * @example
 * ```ts
 * const status = unownedJobStatus(specs.get('orders')!, statuses.get('orders')); // status.state: 'paused'
 * ```
 */
export function unownedJobStatus(spec: ClusterJobSpec, status: ClusterJobStatus | undefined): JobStatus {
  const current = status !== undefined && status.version === spec.version ? status : undefined;
  const registeredState: RegisteredState =
    current?.state === 'failed' || current?.state === 'finished' ? current.state : spec.desired === 'running' ? 'running' : spec.desired;
  // A job the cluster should run but no member runs yet is waiting for the leader's next assignment.
  const state = registeredState === 'running' ? 'waiting for a member' : registeredState;
  const last = status?.lastCheckpoint;
  const lastCheckpoint = last === undefined ? null : { id: last.id, kind: last.kind as 'checkpoint' | 'savepoint', timestamp: last.at, durationMs: last.durationMs ?? 0, totalBytes: last.bytes };
  return {
    name: spec.name,
    state,
    parallelism: spec.parallelism ?? null,
    workers: null,
    attempt: null,
    uptimeMs: null,
    recordsInPerSecond: null,
    lastCheckpoint,
    file: spec.sourceFile,
    registeredState,
    params: spec.params,
    startedAt: null,
    submittedAt: spec.submittedAt,
    startFrom: { from: 'latest' },
    sourceStart: null,
    lastSavepoint: null,
    lastError: current?.error ?? null,
    operators: [],
    checkpoints: lastCheckpoint === null ? [] : [lastCheckpoint],
    failedCheckpoints: [],
    exceptions: [],
    sourceLag: [],
    rescales: [],
  };
}

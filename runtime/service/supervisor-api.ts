// What the job supervisor takes and answers: the shapes of the REST API's job requests and responses (docs/rest.md).
import type { CheckpointManifest } from '../checkpoint/index.ts';
import type { JobRunner, RescaleRecord } from '../runner/index.ts';
import type { JobRecord, RegisteredState, StartFrom } from './job-registry.ts';
import type { CheckpointRecord, ExceptionRecord, FailedCheckpointRecord, StageStatus } from './job-tracker.ts';

/** What `POST /v1/jobs` accepts (after validation). */
export interface SubmitRequest {
  /** Job file on the service's filesystem (relative paths resolve against the service's working directory). */
  readonly file: string;
  readonly params?: Readonly<Record<string, string>>;
  readonly parallelism?: number;
  /** Worker threads of the job (0: in-process); absent: the service's `--workers`, else one per core. */
  readonly workers?: number;
  /** `latest` (default), a checkpoint id, or a savepoint export file on the service's filesystem. */
  readonly from?: string;
  /** Stop a running instance with a savepoint and restart from it with this file and options. */
  readonly replace?: boolean;
  readonly allowNonRestoredState?: boolean;
}

/** One line of `sluice list`. */
export interface JobSummary {
  readonly name: string;
  /** The runner's state while it runs (`starting`, `running`, `rescaling`, `restarting`), else the registered one. */
  readonly state: string;
  readonly parallelism: number | null;
  /** Worker threads of the running attempt (0: in-process); null while not running. */
  readonly workers: number | null;
  readonly attempt: number | null;
  readonly uptimeMs: number | null;
  /** Records its sources read per second (the first stage's input rate); null while not running. */
  readonly recordsInPerSecond: number | null;
  readonly lastCheckpoint: CheckpointRecord | null;
  readonly file: string;
}

/** `sluice status`: everything known about one job. */
export interface JobStatus extends JobSummary {
  /** What the service does with the job after a restart: `running` jobs resume, the rest stay as they are. */
  readonly registeredState: RegisteredState;
  readonly params: Readonly<Record<string, string>>;
  readonly startedAt: number | null;
  readonly submittedAt: number;
  readonly startFrom: StartFrom;
  readonly sourceStart: 'earliest' | 'latest' | null;
  readonly lastSavepoint: NonNullable<JobRecord['lastSavepoint']> | null;
  readonly lastError: string | null;
  readonly operators: readonly StageStatus[];
  readonly checkpoints: readonly CheckpointRecord[];
  /** Checkpoints that failed in this service's lifetime, newest first (last 20). */
  readonly failedCheckpoints: readonly FailedCheckpointRecord[];
  readonly exceptions: readonly ExceptionRecord[];
  readonly sourceLag: ReturnType<JobRunner['sourceLag']>;
  readonly rescales: readonly RescaleRecord[];
}

/** A savepoint or checkpoint as the API reports it. */
export interface SavepointInfo {
  readonly id: number;
  readonly kind: CheckpointManifest['kind'];
  readonly timestamp: number;
  readonly durationMs: number;
  readonly totalBytes: number;
}

/** The JSON document `checkpoint backup` returns and `checkpoint restore` accepts. */
export interface BackupDocument {
  readonly format: 'sluice-checkpoint-backup';
  readonly version: 1;
  readonly job: string;
  readonly checkpoint: number;
  readonly kind: CheckpointManifest['kind'];
  readonly timestamp: number;
  readonly totalBytes: number;
  /** A `sluice-checkpoint-export` file (docs/checkpoints.md), base64. */
  readonly data: string;
}

import type { ResourceLimits } from 'node:worker_threads';
import type { JobDefinition, JobParams } from '../api/index.ts';
import type { CheckpointManifest, CheckpointStore } from '../checkpoint/index.ts';
import type { OwnerLease } from '../exec/owner-lease.ts';
import type { RestartStrategyConfig } from '../failover/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Clock } from '../time/index.ts';

/** Where the first attempt takes its state from. */
export type RestoreSource =
  | { readonly from: 'latest' }
  | { readonly from: 'none' }
  | { readonly from: 'checkpoint'; readonly id: number }
  | { readonly from: 'file'; readonly path: string };

export interface JobRunnerOptions {
  readonly job: JobDefinition;
  readonly params?: JobParams;
  /** Overrides the job's default parallelism (restoring at another parallelism redistributes key groups). */
  readonly parallelism?: number;
  /** Checkpoint store; required when the job checkpoints. The runner does not close it. */
  readonly store?: CheckpointStore;
  /** Default `latest`: resume from the newest valid checkpoint or savepoint of the job, if any. */
  readonly restore?: RestoreSource;
  readonly allowNonRestoredState?: boolean;
  readonly restartStrategy?: RestartStrategyConfig;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly random?: () => number;
  /**
   * Sources start every split at the earliest or latest offset instead of the restored positions (operator state is
   * still restored), until this run's first checkpoint completes: `sluice checkpoint clear` / `catch-up`.
   */
  readonly sourceStart?: 'earliest' | 'latest';
  /**
   * Worker threads to run subtasks on (overrides the job's `workers`); 0 runs every subtask in this thread. Default:
   * one per core, capped by the largest stage parallelism, when {@link jobModule} is given and the clock is the
   * system clock (workers import the module and keep their own time); otherwise in-process. See `workerCount`.
   */
  readonly workers?: number;
  /** The job's module (path or file: URL), which each worker imports to build the plan; without it, no workers. */
  readonly jobModule?: string | URL;
  /** Limits of each worker thread (heap sizes); a worker that exceeds them fails the attempt. */
  readonly workerResourceLimits?: ResourceLimits;
  /** Test hook, see {@link CheckpointCoordinator}. */
  readonly beforeCheckpointStore?: (checkpointId: number, sourcePositions: CheckpointManifest['sourcePositions']) => void | Promise<void>;
  /** Cluster mode: makes every checkpoint durable in Kafka before sinks commit (see {@link CheckpointCoordinator}). */
  readonly replicateCheckpoint?: (manifest: CheckpointManifest) => Promise<void>;
  /** Cluster mode: this member's owner epoch of the job, for sinks that fence stale owners (SinkWriterContext). */
  readonly ownerEpoch?: number;
  /**
   * Cluster mode: whether this member may still act as the job's owner, asked before every attempt starts and passed
   * to sink writers in every thread (`SinkWriterContext.stillOwner`). A member that lost the job must not start an
   * attempt: its sinks would initialise the transactional ids the job's new owner uses and abort its transactions.
   * While the lease does not hold, the runner waits to be cancelled (the member stops the job once it notices).
   */
  readonly ownerLease?: OwnerLease;
}

import type { ConnectorMetric, SplitLag } from '../api/index.ts';
import type { PhysicalPlan } from '../graph/index.ts';
import type { SubtaskMetrics } from './subtask-metrics.ts';

/**
 * A subtask as the checkpoint coordinator and the runner see it: the in-process `Subtask` itself, or a handle on a
 * subtask that runs in a worker thread (runtime/workers), which relays every call as a message. Calls that change
 * the subtask run as mail, between two batches, wherever it runs.
 */
export interface AttemptSubtask {
  readonly stage: number;
  readonly index: number;
  /** `stage 1 subtask 2/4`, for messages. */
  readonly name: string;
  readonly isSource: boolean;
  /** Counters; for a subtask in a worker, the latest snapshot the worker sent. */
  readonly metrics: SubtaskMetrics;
  /** Source subtasks: inject barrier `checkpointId` before the next batch. */
  triggerCheckpoint(checkpointId: number): void;
  /** Checkpoint `checkpointId` is durable: sinks may commit, sources may report offsets. */
  completeCheckpoint(checkpointId: number): void;
  /** Source subtasks: the final checkpoint is durable, the held end of input may flow. */
  releaseEnd(): void;
  /** Source subtasks in this thread: per-split lag, when the reader can tell. */
  sourceLag(): readonly SplitLag[] | undefined;
  /** What the subtask's operators measure beyond its counters (a sink's writer, a keyed state backend), by operator uid. */
  connectorMetrics(): readonly OperatorConnectorMetrics[];
}

/** The metrics one operator's connector reported. */
export interface OperatorConnectorMetrics {
  readonly uid: string;
  readonly metrics: readonly ConnectorMetric[];
}

/**
 * One attempt at running a plan, as the runner and the checkpoint coordinator use it: `JobAttempt` runs every
 * subtask in this thread, `WorkerAttempt` (runtime/workers) on worker threads. Both end when every subtask reached
 * the end of input, or fail as a whole.
 */
export interface RunningAttempt {
  readonly plan: PhysicalPlan;
  readonly attempt: number;
  readonly subtasks: readonly AttemptSubtask[];
  /** Aborted when the attempt is failing or cancelled. */
  readonly signal: AbortSignal;
  /** Resolves when every subtask finished; rejects with the first failure once everything is torn down. */
  run(): Promise<void>;
  /** Fails the attempt: the first reason wins. */
  fail(reason: unknown): void;
}

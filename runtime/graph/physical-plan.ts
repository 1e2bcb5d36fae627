import type { KeySelector, LogicalNode } from '../api/logical-graph.ts';

/** One operator placed in a stage, with its resolved uid. */
export interface PlannedOperator {
  readonly uid: string;
  readonly name: string;
  readonly node: LogicalNode;
  /** Has keyed or operator state that goes into checkpoints (sources: split positions; sinks: transactions). */
  readonly stateful: boolean;
  /** Runs keyed: the stage's input is hash-partitioned by this selector (or the whole job runs at p = 1). */
  readonly keySelector: KeySelector | undefined;
}

/**
 * How records reach a stage's subtasks from the stage before it. `output` names the side output of the upstream
 * stage's last operator this input reads (`ERROR_OUTPUT` for its error output); absent: its main output.
 */
export type StageInput = (
  | { readonly stage: number; readonly partitioning: 'hash'; readonly keySelector: KeySelector }
  | { readonly stage: number; readonly partitioning: 'rebalance' }
  /** Every record to every subtask of this stage (broadcast state). */
  | { readonly stage: number; readonly partitioning: 'broadcast' }
  /** Subtask i of the upstream stage feeds subtask i of this one (same parallelism): each input keeps its order. */
  | { readonly stage: number; readonly partitioning: 'forward' }
) & { readonly output?: string };

/**
 * A chain of operators connected by forward edges at one parallelism: each of its subtasks runs them in one async
 * loop with no queue between them. Stages are connected by channels.
 */
export interface Stage {
  readonly index: number;
  readonly parallelism: number;
  readonly operators: readonly PlannedOperator[];
  /**
   * How the stage reads its input stages (several after a union or a connect, in the order of the operator's
   * inputs); empty for a stage that starts with a source.
   */
  readonly inputs: readonly StageInput[];
  /** Indexes of the stages this one feeds (several when its last operator's stream is consumed more than once). */
  readonly outputs: readonly number[];
}

/** The physical plan of a job: what the executor runs. */
export interface PhysicalPlan {
  readonly job: string;
  /** The job's default parallelism after CLI overrides. */
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly stages: readonly Stage[];
  /** Keyed state is snapshotted incrementally (`checkpoints.incremental`, or see {@link standAloneCheckpoints}); absent: full snapshots. */
  readonly incrementalCheckpoints?: boolean;
  /**
   * Full checkpoints (`checkpoints.incremental` false, the heap backend's default): every checkpoint stands alone,
   * and the store merges each key group's chain into a full blob as it writes one, so subtasks may send deltas —
   * LevelDB subtasks always (`incrementalCheckpoints` is set too), heap subtasks on worker threads that leave the
   * main thread a core (`AttemptSettings.fullCheckpointsFromDeltas`).
   */
  readonly standAloneCheckpoints?: boolean;
  /** Keyed state lives in LevelDB (`state.backend: 'leveldb'`); absent: in the heap. */
  readonly leveldbState?: { readonly cacheBytes?: number; readonly directory?: string; readonly maxOpenFiles?: number };
}

/** A compact, serialisable view of the plan, stored in checkpoint manifests and shown by status. */
export interface PlanSummaryOperator {
  uid: string;
  name: string;
  kind: LogicalNode['kind'];
  parallelism: number;
  stateful: boolean;
}

export function summarizePlan(plan: PhysicalPlan): PlanSummaryOperator[] {
  return plan.stages.flatMap((stage) =>
    stage.operators.map((op) => ({
      uid: op.uid,
      name: op.name,
      kind: op.node.kind,
      parallelism: stage.parallelism,
      stateful: op.stateful,
    })),
  );
}

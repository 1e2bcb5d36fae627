import type { CheckpointTiming, SplitsChange } from '../api/index.ts';
import type { PhysicalPlan } from '../graph/index.ts';
import type { Logger } from '../logging/index.ts';
import type { WatermarkBoard } from '../event-time/watermark-board.ts';
import type { OwnerLease } from './owner-lease.ts';
import type { RestoredState } from './restored-state.ts';
import type { CheckpointListener } from './subtask.ts';

/**
 * What an attempt is given wherever its subtasks run — on this thread (`JobAttempt`) or on worker threads
 * (`WorkerAttempt`) — and what each of its subtasks then shares (`SubtaskContext`).
 */
export interface AttemptSettings {
  readonly plan: PhysicalPlan;
  /** 0 for the first attempt of this run, incremented by every restart. */
  readonly attempt: number;
  readonly logger: Logger;
  readonly restored?: RestoredState | undefined;
  /** When set, sources hold their end of input until the coordinator releases it after a final checkpoint. */
  readonly checkpoints?: CheckpointListener | undefined;
  /** Passed to sink writers (see `SinkWriterContext.checkpointTiming`). */
  readonly checkpointTiming?: CheckpointTiming | undefined;
  /** Passed to sink writers (see `SinkWriterContext.ownerEpoch`). */
  readonly ownerEpoch?: number | undefined;
  /** Cluster mode: sink writers ask it (see `SinkWriterContext.stillOwner`). */
  readonly ownerLease?: OwnerLease | undefined;
  /** The watermarks of the attempt's aligned source subtasks (`WatermarkAlignment`), shared by every thread. */
  readonly watermarkBoard?: WatermarkBoard | undefined;
  /** Sources ignore restored positions and start every split here (see `SourceReaderContext.startOverride`). */
  readonly sourceStart?: 'earliest' | 'latest' | undefined;
  /** A source reported a change in its splits (see `SourceReaderContext.reportSplitsChanged`). */
  readonly onSplitsChanged?: ((sourceUid: string, change: SplitsChange) => void) | undefined;
  /**
   * Heap keyed state sends deltas for full checkpoints (`PhysicalPlan.standAloneCheckpoints`), which the store merges
   * on the main thread: set on worker threads when the attempt leaves the main thread a core of its own
   * (`leavesMainThreadACore`). LevelDB keyed state always does.
   */
  readonly fullCheckpointsFromDeltas?: boolean | undefined;
}

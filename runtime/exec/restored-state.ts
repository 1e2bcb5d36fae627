import type { KeyedChains } from '../state/index.ts';

/**
 * State handed to a new attempt from a checkpoint: what each operator uid gets back. Built by the checkpoint layer
 * from a stored checkpoint; the executor only reads it.
 */
export interface RestoredState {
  readonly checkpointId: number;
  /** Positions of every split of a source uid, merged across the old subtasks. */
  sourcePositions(uid: string): ReadonlyMap<string, unknown> | undefined;
  /**
   * Keyed state of an operator uid by key group, merged across the old subtasks; each chain is read when asked for
   * (on a worker thread, from the main thread).
   */
  keyedState(uid: string): KeyedChains | undefined;
  /** Operator state of an operator uid, one entry per old subtask that had some. */
  operatorState(uid: string): readonly unknown[] | undefined;
}

import type { PhysicalPlan } from '../graph/index.ts';
import type { RestoredState } from '../exec/index.ts';
import { ownerOfKeyGroup, type KeyedChains } from '../state/index.ts';
import { workerOf } from './placement.ts';

/**
 * The part of a restored checkpoint one worker needs, as a structured-clone-able record: the numbers of the key
 * groups its subtasks own (their chains are read from the main thread as the subtasks restore them,
 * chain-reads.ts), every source position (readers pick the splits they own, as in-process), and operator state as
 * it is restored in-process (every old subtask's entry to every new subtask).
 */
export interface RestoredSubset {
  readonly checkpointId: number;
  readonly sourcePositions: Array<[string, Array<[string, unknown]>]>;
  readonly keyed: Array<[string, number[]]>;
  readonly operator: Array<[string, unknown[]]>;
}

export function restoredSubset(restored: RestoredState, plan: PhysicalPlan, worker: number, workers: number): RestoredSubset {
  const subset: { checkpointId: number } & Omit<RestoredSubset, 'checkpointId'> = { checkpointId: restored.checkpointId, sourcePositions: [], keyed: [], operator: [] };
  for (const stage of plan.stages) {
    for (const op of stage.operators) {
      const positions = restored.sourcePositions(op.uid);
      if (positions !== undefined) subset.sourcePositions.push([op.uid, [...positions]]);
      const operator = restored.operatorState(op.uid);
      if (operator !== undefined) subset.operator.push([op.uid, [...operator]]);
      const keyed = restored.keyedState(op.uid);
      if (keyed === undefined) continue;
      const mine: number[] = [];
      for (const group of keyed.keys()) {
        if (workerOf(ownerOfKeyGroup(group, stage.parallelism, plan.maxParallelism), workers) === worker) mine.push(group);
      }
      if (mine.length > 0) subset.keyed.push([op.uid, mine]);
    }
  }
  return subset;
}

/** The worker's view of its subset, with the executor's interface; `readChain` fetches one chain from main. */
export function fromRestoredSubset(subset: RestoredSubset, readChain: (uid: string, keyGroup: number) => Promise<Uint8Array>): RestoredState {
  const positions = new Map(subset.sourcePositions.map(([uid, list]) => [uid, new Map(list)]));
  const keyed = new Map(subset.keyed.map(([uid, groups]): [string, KeyedChains] => {
    const listed = new Set(groups);
    return [uid, { keys: () => listed.keys(), get: (keyGroup) => (listed.has(keyGroup) ? readChain(uid, keyGroup) : undefined) }];
  }));
  const operator = new Map(subset.operator);
  return {
    checkpointId: subset.checkpointId,
    sourcePositions: (uid) => positions.get(uid),
    keyedState: (uid) => keyed.get(uid),
    operatorState: (uid) => operator.get(uid),
  };
}

import type { PhysicalPlan, Stage } from '../graph/index.ts';

/**
 * Where subtasks run: Flink's slot sharing — subtask `i` of every stage goes to worker `i mod W`, so a forward chain
 * never crosses threads and every worker gets a slice of every stage.
 */
export function workerOf(subtask: number, workers: number): number {
  return subtask % workers;
}

/** One channel of the plan: from subtask `from` of stage `upstream` to subtask `to` of stage `stage`. */
export interface PlannedChannel {
  /** Deterministic from the plan alone, so both ends agree on it without telling each other. */
  readonly id: number;
  readonly upstream: number;
  readonly from: number;
  readonly stage: number;
  readonly to: number;
}

/** Every channel of the plan, numbered in the order the in-process attempt creates them (stage, downstream, upstream). */
export function planChannels(plan: PhysicalPlan): PlannedChannel[] {
  const channels: PlannedChannel[] = [];
  for (const stage of plan.stages) {
    if (stage.input === undefined) continue;
    const upstream = plan.stages[stage.input.stage] as Stage;
    for (let to = 0; to < stage.parallelism; to++) {
      for (let from = 0; from < upstream.parallelism; from++) {
        channels.push({ id: channels.length, upstream: upstream.index, from, stage: stage.index, to });
      }
    }
  }
  return channels;
}

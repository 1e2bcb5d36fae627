import type { PhysicalPlan, Stage, StageInput } from '../graph/index.ts';

/** One channel of the plan: from subtask `from` of stage `upstream` to subtask `to` of stage `stage`. */
export interface PlannedChannel {
  /** Deterministic from the plan alone, so both ends (two worker threads) agree on it without telling each other. */
  readonly id: number;
  readonly upstream: number;
  readonly from: number;
  readonly stage: number;
  readonly to: number;
  /** Which of the downstream stage's inputs the channel belongs to (a connected operator tells its two apart). */
  readonly input: number;
}

/**
 * Every channel of the plan, in a fixed order (stage, input, downstream subtask, upstream subtask). Hash, rebalance
 * and broadcast edges connect every upstream subtask to every downstream one; a forward edge connects subtask i to
 * subtask i only.
 */
export function planChannels(plan: PhysicalPlan): PlannedChannel[] {
  const channels: PlannedChannel[] = [];
  for (const stage of plan.stages) {
    stage.inputs.forEach((input, inputIndex) => {
      const upstream = plan.stages[input.stage] as Stage;
      const forward = input.partitioning === 'forward';
      for (let to = 0; to < stage.parallelism; to++) {
        for (let from = 0; from < upstream.parallelism; from++) {
          if (forward && from !== to) continue;
          channels.push({ id: channels.length, upstream: upstream.index, from, stage: stage.index, to, input: inputIndex });
        }
      }
    });
  }
  return channels;
}

/**
 * One edge out of a subtask: the stage it feeds, which of that stage's inputs it is (its partitioning, and the side
 * output it carries if any), and the channels to that stage's subtasks (by index; one if forward).
 */
export interface OutputEdge<W> {
  readonly stage: Stage;
  readonly input: StageInput;
  readonly writers: readonly W[];
}

/** A subtask's input channels, each with the index of the stage input it belongs to. */
export interface GateChannels<R> {
  readonly readers: readonly R[];
  /** `inputOf[i]`: the stage input of `readers[i]`. */
  readonly inputOf: readonly number[];
}

/**
 * A subtask's channel ends, from one read and one write end per planned channel (`undefined` where this thread holds
 * no such end: a worker wires only its own subtasks).
 *
 * @example
 * ```ts
 * const channels = new Map(planChannels(plan).map((ch) => [ch.id, new Channel(capacity)]));
 * const wiring = wireChannels(plan, (ch) => channels.get(ch.id), (ch) => channels.get(ch.id));
 * wiring.inputs(1, 0)?.readers; wiring.outputs(0, 0);
 * ```
 */
export function wireChannels<R, W>(
  plan: PhysicalPlan,
  readerOf: (channel: PlannedChannel) => R | undefined,
  writerOf: (channel: PlannedChannel) => W | undefined,
): { inputs(stage: number, subtask: number): GateChannels<R> | undefined; outputs(stage: number, subtask: number): OutputEdge<W>[] } {
  const readers = new Map<string, { readers: R[]; inputOf: number[] }>();
  const writers = new Map<string, W[]>();
  for (const channel of planChannels(plan)) {
    const reader = readerOf(channel);
    if (reader !== undefined) {
      const key = `${channel.stage}/${channel.to}`;
      const gate = readers.get(key) ?? { readers: [], inputOf: [] };
      gate.readers.push(reader);
      gate.inputOf.push(channel.input);
      readers.set(key, gate);
    }
    const writer = writerOf(channel);
    if (writer !== undefined) {
      const key = `${channel.upstream}/${channel.from}/${channel.stage}/${channel.input}`;
      writers.set(key, [...(writers.get(key) ?? []), writer]);
    }
  }
  return {
    // Channels come in upstream-subtask order per reader and downstream-subtask order per writer (planChannels' order).
    inputs: (stage, subtask) => readers.get(`${stage}/${subtask}`),
    outputs: (stage, subtask) => {
      const edges: OutputEdge<W>[] = [];
      for (const next of new Set((plan.stages[stage] as Stage).outputs)) {
        const downstream = plan.stages[next] as Stage;
        // One edge per input of the downstream stage that reads this one (two when a stream is connected to itself).
        downstream.inputs.forEach((input, i) => {
          if (input.stage === stage) edges.push({ stage: downstream, input, writers: writers.get(`${stage}/${subtask}/${next}/${i}`) ?? [] });
        });
      }
      return edges;
    },
  };
}

import type { PhysicalPlan } from '../graph/index.ts';

/**
 * What must be equal in the plan every worker builds and the plan the coordinator built: functions cannot be sent to
 * a worker, so each worker imports the job module and runs its build function itself, and a build that depends on
 * anything but its params (`Math.random()` in a uid, the clock, an environment variable read differently) would
 * wire workers that disagree on uids, stages or partitioning. One line per fact, so the first differing line names
 * the difference.
 *
 * @example
 * ```ts
 * const difference = firstDifference(planFingerprint(mainPlan), planFingerprint(workerPlan));
 * if (difference !== undefined) throw new SluiceError('SLUICE_PLAN_NOT_DETERMINISTIC', difference.describe('worker 1'));
 * ```
 */
export function planFingerprint(plan: PhysicalPlan): string[] {
  const lines = [`job ${plan.job}`, `parallelism ${plan.parallelism}`, `maxParallelism ${plan.maxParallelism}`, `stages ${plan.stages.length}`];
  for (const stage of plan.stages) {
    const input = stage.inputs.length === 0 ? 'none' : stage.inputs.map((i) => `${i.partitioning} from stage ${i.stage}${i.output === undefined ? '' : ` (side output ${i.output})`}`).join(' + ');
    lines.push(`stage ${stage.index}: parallelism ${stage.parallelism}, input ${input}, outputs ${stage.outputs.length === 0 ? 'none' : stage.outputs.join(',')}`);
    for (const op of stage.operators) {
      lines.push(`stage ${stage.index} operator uid "${op.uid}" (${op.node.kind}${op.keySelector === undefined ? '' : ', keyed'}${op.stateful ? ', stateful' : ''})`);
    }
  }
  return lines;
}

/** The first line where two fingerprints differ, or `undefined` when they are equal. */
export function firstDifference(expected: readonly string[], actual: readonly string[]): { expected: string; actual: string } | undefined {
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    if (expected[i] !== actual[i]) return { expected: expected[i] ?? '(nothing)', actual: actual[i] ?? '(nothing)' };
  }
  return undefined;
}

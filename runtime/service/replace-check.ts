import type { PhysicalPlan } from '../graph/index.ts';
import { assertRestorable } from '../runner/index.ts';

/**
 * Whether `next` can take over the state of the running `plan` (uids, max parallelism), or why not: `submit
 * --replace` checks this before it stops the running job, so a job that cannot restore keeps running.
 */
export function assertReplaceable(running: PhysicalPlan, next: PhysicalPlan, allowNonRestoredState: boolean): void {
  const statefulUids = running.stages.flatMap((stage) => stage.operators.filter((op) => op.stateful).map((op) => op.uid));
  assertRestorable({ what: 'the running job', job: running.job, maxParallelism: running.maxParallelism, statefulUids }, next, { allowNonRestoredState });
}

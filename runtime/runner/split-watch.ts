/**
 * The runner's side of a job's rescale policy (docs/rescaling.md): what parallelism the sources' split counts call
 * for under `match` or `divisor`, at the start and whenever a source's discovery reports a change, and the warning
 * that `fixed` gives when splits do not divide evenly over the subtasks.
 */
import type { SplitsChange } from '../api/index.ts';
import type { PhysicalPlan } from '../graph/index.ts';
import type { Logger } from '../logging/index.ts';
import { chooseParallelism, evenParallelisms, type RescaleOptions } from '../rescale/index.ts';

/** Tracks the split count of every source of one job and applies its rescale policy to them. */
export class SplitWatch {
  readonly #policy: RescaleOptions;
  readonly #logger: Logger;
  /** Split counts last reported per source uid: every subtask reports the same change, the first one counts. */
  readonly #known = new Map<string, number>();

  constructor(policy: RescaleOptions | undefined, logger: Logger) {
    this.#policy = policy ?? { policy: 'fixed' };
    this.#logger = logger;
  }

  /**
   * The first attempt's parallelism when the policy follows the sources' split counts (`undefined`: keep the
   * plan's). A parallelism set explicitly wins over the policy, and so does `fixed`; both only warn when uneven.
   */
  async initialParallelism(plan: PhysicalPlan, explicit: boolean): Promise<number | undefined> {
    const counts: Array<[string, number]> = [];
    for (const stage of plan.stages) {
      const head = stage.operators[0];
      if (head === undefined || head.node.kind !== 'source' || head.node.source.splitCount === undefined) continue;
      try {
        counts.push([head.uid, await head.node.source.splitCount({ logger: this.#logger })]);
      } catch (err) {
        this.#logger.warn({ source: head.uid, err: (err as Error)?.message ?? String(err) }, `could not count the splits of source "${head.uid}"; starting at parallelism ${plan.parallelism}`);
      }
    }
    for (const [uid, splits] of counts) this.#known.set(uid, splits);
    const splits = Math.max(0, ...counts.map(([, n]) => n));
    if (counts.length === 0 || splits === 0) return undefined;
    if (this.#policy.policy === 'fixed' || explicit) {
      for (const [uid, n] of counts) this.#warnIfUneven(uid, n, plan);
      return undefined;
    }
    const to = chooseParallelism(this.#policy.policy, { splits, current: plan.parallelism, cap: this.#cap(plan) });
    if (to === plan.parallelism) return undefined;
    this.#logger.info({ splits, parallelism: to, policy: this.#policy.policy }, `policy "${this.#policy.policy}" chose parallelism ${to} for ${splits} splits`);
    return to;
  }

  /** Whether `change` is news (subtasks of one source all report it; the first report counts). */
  isNew(sourceUid: string, change: SplitsChange): boolean {
    if (this.#known.get(sourceUid) === change.splits) return false;
    this.#known.set(sourceUid, change.splits);
    return true;
  }

  /**
   * The parallelism the policy chooses after a source's change, with the reason to log; `undefined` when it keeps
   * `current` (warning if the splits are then uneven over the subtasks).
   */
  rescaleFor(sourceUid: string, change: SplitsChange, current: number, plan: PhysicalPlan): { to: number; reason: string } | undefined {
    const to = chooseParallelism(this.#policy.policy, { splits: change.splits, current, cap: this.#cap(plan) });
    if (to === current) {
      this.#warnIfUneven(sourceUid, change.splits, plan, current);
      return undefined;
    }
    return { to, reason: `source "${sourceUid}" now has ${change.splits} splits; policy "${this.#policy.policy}" chose parallelism ${to}` };
  }

  #cap(plan: PhysicalPlan): number {
    return this.#policy.maxParallelism ?? plan.maxParallelism;
  }

  /** `fixed` keeps the parallelism; say once per split count when that leaves subtasks with unequal work. */
  #warnIfUneven(sourceUid: string, splits: number, plan: PhysicalPlan, parallelism = plan.parallelism): void {
    if (splits === 0 || splits % parallelism === 0) return;
    const better = evenParallelisms(splits, parallelism, this.#cap(plan));
    const idle = parallelism > splits ? `; ${parallelism - splits} subtask(s) stay idle` : '';
    this.#logger.warn(
      { source: sourceUid, splits, parallelism, evenParallelisms: better },
      `source "${sourceUid}" has ${splits} splits over ${parallelism} subtasks: some read ${Math.ceil(splits / parallelism)}, others ${Math.floor(splits / parallelism)}${idle}. Parallelism ${better.join(' or ')} splits them evenly (or set rescale: { policy: 'divisor' })`,
    );
  }
}

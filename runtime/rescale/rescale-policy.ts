import { SluiceError } from '../errors/index.ts';

/**
 * How a job's parallelism follows its source's splits (Kafka partitions) — docs/rescaling.md:
 * - `fixed`: parallelism stays; new splits are assigned to the existing subtasks without a restart.
 * - `match`: parallelism = number of splits, capped.
 * - `divisor`: the largest divisor of the number of splits that is ≤ the cap, so every subtask reads the same number
 *   of splits (Flink's docs leave this arithmetic to the user).
 */
export type RescalePolicyName = 'fixed' | 'match' | 'divisor';

/** The `rescale` job option. */
export interface RescaleOptions {
  policy: RescalePolicyName;
  /** Upper bound for `match` and `divisor`; default the job's maxParallelism. */
  maxParallelism?: number;
}

/**
 * The parallelism a policy picks for `splits` splits, given the current parallelism and the cap.
 *
 * @example
 * ```ts
 * chooseParallelism('divisor', { splits: 12, current: 4, cap: 8 }); // 6
 * chooseParallelism('match', { splits: 12, current: 4, cap: 8 });   // 8
 * chooseParallelism('fixed', { splits: 12, current: 4, cap: 8 });   // 4
 * ```
 */
export function chooseParallelism(policy: RescalePolicyName, input: { splits: number; current: number; cap: number }): number {
  const { splits, current, cap } = input;
  if (!Number.isInteger(cap) || cap < 1) {
    throw new SluiceError('SLUICE_INVALID_OPTION', `rescale.maxParallelism must be a positive integer, got ${String(cap)}`, { retriable: false });
  }
  // No splits yet (a topic pattern that matches nothing): keep what we have rather than scale to zero.
  if (splits < 1) return current;
  switch (policy) {
    case 'fixed':
      return current;
    case 'match':
      return Math.min(splits, cap);
    case 'divisor':
      return largestDivisorAtMost(splits, cap);
  }
}

/** Largest `d` with `n % d === 0` and `d <= cap` (1 always qualifies). */
export function largestDivisorAtMost(n: number, cap: number): number {
  for (let d = Math.min(n, cap); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/**
 * Parallelisms that split `splits` evenly, nearest to `current` first (at most `limit`, all ≤ cap): the suggestion
 * in the warning about an uneven `fixed` split.
 */
export function evenParallelisms(splits: number, current: number, cap: number, limit = 3): number[] {
  // 1 always divides evenly but gives up all parallelism: only suggested when nothing else fits under the cap.
  const divisors: number[] = [];
  for (let d = 2; d <= Math.min(splits, cap); d++) if (splits % d === 0) divisors.push(d);
  if (divisors.length === 0) divisors.push(1);
  return divisors.sort((a, b) => Math.abs(a - current) - Math.abs(b - current) || b - a).slice(0, limit);
}

/** Checks a `rescale` option; returns the list of problems (empty when valid). */
export function validateRescaleOptions(options: unknown, maxParallelism: number): string[] {
  if (options === undefined) return [];
  if (typeof options !== 'object' || options === null) return ['rescale must be an object like { policy: "fixed" }'];
  const { policy, maxParallelism: cap } = options as Partial<RescaleOptions>;
  const problems: string[] = [];
  if (policy !== 'fixed' && policy !== 'match' && policy !== 'divisor') {
    problems.push(`rescale.policy must be "fixed", "match" or "divisor", got ${JSON.stringify(policy)}`);
  }
  if (cap !== undefined && (!Number.isInteger(cap) || cap < 1 || cap > maxParallelism)) {
    problems.push(`rescale.maxParallelism must be an integer from 1 to the job's maxParallelism (${maxParallelism}), got ${String(cap)}`);
  }
  return problems;
}

import { SluiceError } from '../errors/index.ts';

/**
 * Whether a failed attempt may be restarted at all (Flink's split between recoverable errors and the ones that
 * bypass the restart strategy): `fatal` errors fail the job at once, `retriable` ones go to the restart strategy.
 *
 * The rule, outermost error first along the `cause` chain: the first {@link SluiceError} that sets `retriable`
 * decides (`false` = fatal). Wrappers that do not set it (`SLUICE_JOB_FAILED`, a dead-letter failure) defer to what
 * they wrap. Anything else is retriable: an error of user code or of a library may well not recur on a replay,
 * and restarting is what Flink does with them.
 */
export type FailureClass =
  | { readonly fatal: true; /** The error that said so (the failure itself or one of its causes). */ readonly decidedBy: SluiceError }
  | { readonly fatal: false };

/**
 * Classifies the error an attempt failed with; see {@link FailureClass}.
 *
 * @example
 * ```ts
 * const failure = classifyFailure(err);
 * if (failure.fatal) logger.error({ err }, `${failure.decidedBy.code} is not retriable: the job fails without restarting`);
 * ```
 */
export function classifyFailure(error: unknown): FailureClass {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    if (current instanceof SluiceError && current.retriable !== undefined) {
      return current.retriable ? { fatal: false } : { fatal: true, decidedBy: current };
    }
    current = (current as { cause?: unknown }).cause;
  }
  return { fatal: false };
}

/** True when `error` must fail the job without a restart ({@link classifyFailure}). */
export function isFatalFailure(error: unknown): boolean {
  return classifyFailure(error).fatal;
}

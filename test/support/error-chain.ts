import { isSluiceError } from '../../runtime/errors/index.ts';

/**
 * The error itself, or the first error along its `cause` chain, with `code`: an operator's failure wraps what it hit
 * (`SLUICE_OPERATOR_FAILED` around the state's or the key's error), on either side of a thread boundary.
 */
export function withCode(err: unknown, code: `SLUICE_${string}`): Error | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) if (isSluiceError(e, code)) return e;
  return undefined;
}

/**
 * The one error type Sluice throws across module boundaries.
 *
 * Every error carries a stable `code` (for scripts and tests), a message that says what happened, to what, and what
 * to do, an optional `cause` (the wrapped driver error) and `retriable`: whether trying the same thing again can
 * succeed. A job attempt that fails with `retriable: false` fails the job at once, whatever the restart strategy
 * (Flink's non-recoverable errors); `true` and unset (`undefined`: nobody knows) leave it to the restart strategy.
 * A wrapper that does not set it defers to its cause (see `isFatalFailure` in runtime/failover and docs/errors.md).
 * Each module keeps its own `as const` list of codes beside its code; they all start with `SLUICE_`.
 *
 * @example
 * ```ts
 * throw new SluiceError('SLUICE_CHECKPOINT_CORRUPT',
 *   'checkpoint 42 of job "orders" failed its checksum; restoring from checkpoint 41', { cause: err });
 * ```
 */
export class SluiceError extends Error {
  readonly code: SluiceErrorCode;
  /** `false`: retrying cannot help (a bad option, a record that can never be written); `undefined`: not known. */
  readonly retriable: boolean | undefined;

  constructor(code: SluiceErrorCode, message: string, options: SluiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SluiceError';
    this.code = code;
    this.retriable = options.retriable;
  }
}

/** Codes are namespaced strings; each module declares the ones it throws in an `as const` list. */
export type SluiceErrorCode = `SLUICE_${string}`;

export interface SluiceErrorOptions {
  cause?: unknown;
  retriable?: boolean;
}

/** True when `err` is a {@link SluiceError}, optionally with the given code. */
export function isSluiceError(err: unknown, code?: SluiceErrorCode): err is SluiceError {
  return err instanceof SluiceError && (code === undefined || err.code === code);
}

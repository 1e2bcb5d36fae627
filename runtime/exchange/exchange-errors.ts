import { SluiceError } from '../errors/index.ts';

/** Error codes thrown by the exchange between workers (`runtime/exchange`). */
export const ExchangeErrorCodes = {
  /** The peer went away (worker exited, port closed) without closing cleanly: in-flight data is lost. */
  disconnected: 'SLUICE_EXCHANGE_DISCONNECTED',
  /** This side closed the transport or channel; a push after that is refused. */
  closed: 'SLUICE_EXCHANGE_CLOSED',
  /** A frame could not be decoded: the two sides disagree on the wire format or the bytes were damaged. */
  corruptFrame: 'SLUICE_EXCHANGE_CORRUPT_FRAME',
  /**
   * A record bound for another thread holds a value msgpack cannot write (a symbol): fatal, since a restart would
   * replay the same record.
   */
  recordNotSerializable: 'SLUICE_RECORD_NOT_SERIALIZABLE',
  /** The single-producer contract was broken (a push while an earlier one still waits for credit). */
  protocol: 'SLUICE_EXCHANGE_PROTOCOL',
} as const;

export type ExchangeErrorCode = (typeof ExchangeErrorCodes)[keyof typeof ExchangeErrorCodes];

/**
 * An error as it crosses a thread or process boundary: structured clone keeps an `Error`'s message but drops `code`
 * and `retriable`, and a socket carries no objects at all, so errors travel as this plain record and are rebuilt as a
 * {@link SluiceError} with the same code, message and retriable flag (the peer's stack is kept as the cause's stack).
 */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly code: string | undefined;
  readonly retriable: boolean | undefined;
  readonly stack: string | undefined;
  /**
   * The error's `cause`, the same way (a few levels deep): an operator's failure wraps what it hit, and code that
   * looks for a code along the chain (a key refused, a value that cannot be written) finds it on either side.
   */
  readonly cause?: WireError;
}

/** Causes kept beyond the error itself; a chain longer than this loses its tail (the stack still shows it). */
const WIRE_CAUSES = 4;

export function toWireError(err: unknown, depth = 0): WireError {
  if (err instanceof Error) {
    const { code, retriable } = err as { code?: unknown; retriable?: unknown };
    const wire: WireError = {
      name: err.name,
      message: err.message,
      code: typeof code === 'string' ? code : undefined,
      retriable: typeof retriable === 'boolean' ? retriable : undefined,
      stack: err.stack,
    };
    // A cause travels without its stack: logs print the error's own, and a failing worker sends every cause's stack in
    // it (stackWithCauses), so each would show twice.
    const withoutStack = depth === 0 ? wire : { ...wire, stack: undefined };
    return err.cause instanceof Error && depth < WIRE_CAUSES ? { ...withoutStack, cause: toWireError(err.cause, depth + 1) } : withoutStack;
  }
  return { name: 'Error', message: String(err), code: undefined, retriable: undefined, stack: undefined };
}

/** Rebuilds the peer's error, and its causes: a `SLUICE_` code comes back as a SluiceError; anything else as an Error with its name, message and code. */
export function fromWireError(wire: WireError, isCause = false): Error {
  const cause = wire.cause === undefined ? {} : { cause: fromWireError(wire.cause, true) };
  if (wire.code !== undefined && wire.code.startsWith('SLUICE_')) {
    const err = new SluiceError(wire.code as `SLUICE_${string}`, wire.message, { ...(wire.retriable === undefined ? {} : { retriable: wire.retriable }), ...cause });
    if (wire.stack !== undefined || isCause) err.stack = wire.stack ?? `${err.name}: ${err.message}`;
    return err;
  }
  const err = new Error(wire.message, cause);
  err.name = wire.name;
  if (wire.stack !== undefined || isCause) err.stack = wire.stack ?? `${err.name}: ${err.message}`;
  if (wire.code !== undefined) (err as Error & { code?: string }).code = wire.code;
  return err;
}

export function exchangeError(code: ExchangeErrorCode, message: string, cause?: unknown): SluiceError {
  return new SluiceError(code, message, cause === undefined ? {} : { cause });
}

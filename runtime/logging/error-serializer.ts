import { messageWithCauses, stackWithCauses } from '../errors/index.ts';

/** How an `err` field looks in a log line. */
export interface SerializedError {
  readonly type: string;
  readonly message: string;
  readonly stack: string;
  readonly code?: string;
  readonly retriable?: boolean;
  readonly [key: string]: unknown;
}

/**
 * pino's `err` serializer, with two differences from pino's default: a cause's message is appended only when the
 * message does not already say it (Sluice's wrappers repeat their cause, which pino's default doubled), and the
 * stack keeps every cause's stack (`caused by: …`), so the user's file:line survives a restart's log line.
 */
export function serializeError(err: unknown): unknown {
  if (typeof err !== 'object' || err === null || typeof (err as { message?: unknown }).message !== 'string') return err;
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(err)) {
    if (key !== 'cause' && value !== undefined) own[key] = value;
  }
  return {
    ...own,
    type: (err as Error).name ?? (err as object).constructor?.name ?? 'Error',
    message: messageWithCauses(err),
    stack: stackWithCauses(err),
  } satisfies SerializedError;
}

/**
 * Reading an error together with its `cause` chain, for logs, the REST API and `sluice status`.
 *
 * Sluice's wrappers already repeat what they wrap (`operator "enrich" failed: cannot handle purchase 123457`), so
 * appending every cause's message the way pino's default serializer does doubles it
 * (`…: cannot handle purchase 123457: cannot handle purchase 123457`). {@link messageWithCauses} appends a cause's
 * message only when the message does not already contain it.
 */

/** `err` and its causes, outermost first; a cycle ends the list. */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = err;
  while (current !== undefined && current !== null && !chain.includes(current)) {
    chain.push(current);
    current = typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
  }
  return chain;
}

/** The message, followed by each cause's message it does not already contain. */
export function messageWithCauses(err: unknown): string {
  let message = messageOf(err);
  for (const cause of causeChain(err).slice(1)) {
    const own = messageOf(cause);
    if (own !== '' && !message.includes(own)) message += `: ${own}`;
  }
  return message;
}

/**
 * Every stack of the chain, outermost first, joined by `caused by: ` lines (Java's and pino's format). The innermost
 * stack is the one with the user's file:line when user code threw.
 *
 * @example
 * ```ts
 * stackWithCauses(err);
 * // SluiceError: operator "enrich" (subtask 1/1) of job "orders" failed: cannot handle purchase 123457
 * //     at MapOperator.process (runtime/exec/operators/stateless-operators.ts:20:18)
 * // caused by: Error: cannot handle purchase 123457
 * //     at enrich (/srv/jobs/orders.ts:14:11)
 * ```
 */
export function stackWithCauses(err: unknown): string {
  return causeChain(err)
    .map((e) => (e instanceof Error && typeof e.stack === 'string' ? e.stack : `${messageOf(e)}`))
    .join('\ncaused by: ');
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') return (err as { message: string }).message;
  return String(err);
}

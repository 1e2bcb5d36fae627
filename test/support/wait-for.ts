/**
 * Wait on a condition with a deadline, instead of sleeping and hoping.
 *
 * `condition` is polled every `intervalMs` until it returns a value other than `false`, `undefined` or `null`
 * (or resolves to one); that value is returned. A condition that throws counts as "not yet": the last error is
 * attached as `cause` if the deadline passes.
 *
 * @example
 * const seen: string[] = []
 * await waitFor(() => seen.length >= 10, { timeoutMs: 5_000, message: 'ten records consumed' })
 */
export interface WaitForOptions {
  /** Deadline in milliseconds. Default 10 000. */
  timeoutMs?: number
  /** Poll period in milliseconds. Default 10. */
  intervalMs?: number
  /** What was awaited, for the timeout error: "the consumer group to rebalance". */
  message?: string
  /** Called once at timeout; its result is appended to the error message (e.g. what was seen so far). */
  describe?: () => unknown
}

export type Truthy<T> = Exclude<T, false | null | undefined>

export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const intervalMs = options.intervalMs ?? 10
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await condition()
      if (value !== false && value !== null && value !== undefined) return value as Truthy<T>
      lastError = undefined
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) break
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(1, deadline - Date.now()))))
  }
  let text = `timed out after ${timeoutMs} ms waiting for ${options.message ?? 'a condition'}`
  if (options.describe) {
    let described: unknown
    try {
      described = options.describe()
    } catch (err) {
      described = `(describe failed: ${String(err)})`
    }
    text += `; ${typeof described === 'string' ? described : JSON.stringify(described)}`
  }
  if (lastError !== undefined) text += `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`
  throw new Error(text, lastError === undefined ? undefined : { cause: lastError })
}

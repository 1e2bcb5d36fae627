/**
 * Calls into a kafkajs client that have not settled yet, so the client is disconnected only once they have.
 *
 * Why: kafkajs reconnects a disconnected client on its next request. The runtime closes a failing attempt's writers
 * and readers without waiting for their calls in flight (a commit retrying, a send, a connect), so a call that
 * outlives `disconnect()` reopens broker connections that nobody closes: a socket and two timers per broker, per
 * attempt, for the life of a `sluice start` process. Closing therefore waits for the calls in flight (bounded, close
 * must stay prompt) before disconnecting, and disconnects again when a call still running at the deadline settles.
 *
 * @example
 * ```ts
 * const inFlight = new InFlight();
 * await inFlight.track(producer.connect());
 * // on close:
 * await inFlight.closeAfterSettled(() => producer.disconnect(), 5_000);
 * ```
 */
export class InFlight {
  readonly #calls = new Set<Promise<unknown>>();

  /** Remembers `call` until it settles; returns it unchanged. */
  track<R>(call: Promise<R>): Promise<R> {
    this.#calls.add(call);
    const done = (): void => {
      this.#calls.delete(call);
    };
    call.then(done, done);
    return call;
  }

  /**
   * Waits up to `deadlineMs` for the calls in flight now (and `also`), then runs `disconnect`. If some are still
   * running then, `disconnect` runs again once they settled, closing whatever they reconnected. Never rejects:
   * `disconnect` should catch (and log) its own failures.
   */
  async closeAfterSettled(disconnect: () => Promise<unknown>, deadlineMs: number, also: Array<Promise<unknown> | undefined> = []): Promise<void> {
    const all = Promise.allSettled([...this.#calls, ...also]);
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      all.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    await disconnect().catch(() => undefined);
    if (!settled) void all.then(() => disconnect()).catch(() => undefined);
  }
}

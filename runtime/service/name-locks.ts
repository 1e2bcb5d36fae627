/**
 * One action at a time per job name: the supervisor runs submit, stop, rescale, restore … of one job in the order
 * they arrive, so two submits of one job cannot both start it, while actions on different jobs run side by side.
 */
export class NameLocks {
  readonly #tails = new Map<string, Promise<unknown>>();

  /**
   * Runs `action` once every action queued before it for `name` has settled (whether it succeeded or not).
   *
   * @example
   * ```ts
   * const locks = new NameLocks();
   * await locks.run('orders', () => startOrders());
   * ```
   */
  run<T>(name: string, action: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(name) ?? Promise.resolve();
    const result = previous.then(action, action);
    const tail = result.catch(() => undefined);
    this.#tails.set(name, tail);
    void tail.then(() => {
      if (this.#tails.get(name) === tail) this.#tails.delete(name);
    });
    return result;
  }
}

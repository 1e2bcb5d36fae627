/**
 * Time as a dependency. Windows, timers, checkpoint intervals and restart delays read time and wait through a
 * `Clock`, so tests move time by hand instead of sleeping.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0);
 * const fired: number[] = [];
 * clock.setTimeout(() => fired.push(clock.now()), 100);
 * clock.advance(100); // fired = [100]
 * ```
 */
export interface Clock {
  /** Milliseconds since the epoch (or since the clock's own origin, for a manual clock). */
  now(): number;
  /** Calls `fn` once after `ms`; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Opaque timer handle. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/**
 * The real clock: `Date.now()` and Node timers. Timers keep the process alive (a job waiting only on a timer, such as
 * a rate-limited source, must not let Node exit); whoever sets a timer clears it.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    return setTimeout(fn, ms);
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
  sleep(ms, signal) {
    return sleepWith(this, ms, signal);
  },
};

interface ManualTimer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when a test calls {@link ManualClock.advance}. Timers fire in due order.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * clock.setTimeout(() => fired.push(clock.now()), 1_000);
 * clock.advance(1_500); // fired: [1000]
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  /** The manual time, in ms: it moves only by {@link ManualClock.advance}. */
  now(): number {
    return this.#now;
  }

  /** Runs `fn` once the clock has been advanced by `ms`. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return timer;
  }

  /** Cancels a timer that has not fired. */
  clearTimeout(handle: TimerHandle): void {
    (handle as ManualTimer).cancelled = true;
  }

  /** Resolves once the clock has been advanced by `ms`; rejects when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWith(this, ms, signal);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = this.#nextDue(target);
      if (next === undefined) break;
      this.#now = next.due;
      next.cancelled = true;
      next.fn();
    }
    this.#now = target;
    this.#timers = this.#timers.filter((t) => !t.cancelled);
  }

  /** Number of timers still waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  #nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (t.cancelled || t.due > limit) continue;
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

function sleepWith(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Microseconds on the process's monotonic clock: the same in every thread, unlike `performance.now()`. */
export function monotonicMicros(): bigint {
  return process.hrtime.bigint() / 1000n;
}

const OPEN_ENDED = 0x7fff_ffff_ffff_ffffn;
const ENDED = -1n;

/**
 * Until when this process may act as the owner of a job: one 64-bit word in shared memory, written by the thread that
 * knows (a cluster member's group membership, on the main thread) and read by every thread that runs the job's
 * subtasks, without a message between them. A process resumed after a stop reads an expired lease at once, before
 * any message could tell it so. Outside cluster mode there is no lease (a job's owner is its only process).
 *
 * @example
 * ```ts
 * const lease = OwnerLease.create();
 * lease.holdUntil(monotonicMicros() + 10_000_000n); // the group session holds for 10 s more
 * worker.postMessage({ lease: lease.buffer });       // the worker: new OwnerLease(buffer).holds()
 * lease.end();                                       // the member lost the job
 * ```
 */
export class OwnerLease {
  readonly buffer: SharedArrayBuffer;
  readonly #until: BigInt64Array;

  /** A view of the lease in `buffer` (made by {@link OwnerLease.create}, maybe in another thread). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#until = new BigInt64Array(buffer, 0, 1);
  }

  /** A new lease, not held until {@link holdUntil} or {@link holdOpenEnded}. */
  static create(): OwnerLease {
    const lease = new OwnerLease(new SharedArrayBuffer(8));
    lease.end();
    return lease;
  }

  /** Held until `until` (microseconds of {@link monotonicMicros}). */
  holdUntil(until: bigint): void {
    Atomics.store(this.#until, 0, until);
  }

  /** Held until {@link end}: no deadline known (the group coordinator keeps the member while it waits on it). */
  holdOpenEnded(): void {
    Atomics.store(this.#until, 0, OPEN_ENDED);
  }

  /** No longer held, for good or until held again. */
  end(): void {
    Atomics.store(this.#until, 0, ENDED);
  }

  /** Whether the lease holds now. */
  holds(): boolean {
    return monotonicMicros() <= Atomics.load(this.#until, 0);
  }

  /** The deadline as stored (for copying one lease into another). */
  until(): bigint {
    return Atomics.load(this.#until, 0);
  }
}

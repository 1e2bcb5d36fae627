import { monotonicMicros, OwnerLease } from '../../exec/owner-lease.ts';

/**
 * How long the group coordinator surely counts this member's session, by the monotonic clock (`performance.now()`):
 * from the anchor — the send time of the last heartbeat that succeeded, or the answer to a JoinGroup or SyncGroup —
 * for one session timeout, or for as long as a JoinGroup or SyncGroup sent within the session waits (Kafka keeps such
 * a member alive). What it concludes is kept in an {@link OwnerLease}, so other threads can read it, and reported to
 * `onLease` at every change.
 *
 * @example
 * ```ts
 * const session = new GroupSession(10_000, (until) => jobs.sessionLeaseChanged(until));
 * session.assigned(true);
 * session.restartedAt(performance.now()); // a heartbeat sent now succeeded
 * if (session.expired()) stopEverything();
 * ```
 */
export class GroupSession {
  readonly #sessionMs: number;
  readonly #onLease: ((until: bigint) => void) | undefined;
  readonly #lease = OwnerLease.create();
  #anchor: number | undefined;
  #requestSentAt: number | undefined;
  #assigned = false;

  constructor(sessionMs: number, onLease?: (until: bigint) => void) {
    this.#sessionMs = sessionMs;
    this.#onLease = onLease;
  }

  /** The coordinator restarted the session no earlier than `at`. */
  restartedAt(at: number): void {
    this.#anchor = at;
    this.#publish();
  }

  /** A JoinGroup or SyncGroup was sent just now. */
  requestSent(): void {
    this.#requestSentAt = performance.now();
    this.#publish();
  }

  /** The JoinGroup or SyncGroup round is over (answered or failed). */
  requestSettled(): void {
    this.#requestSentAt = undefined;
    this.#publish();
  }

  /** Whether the member holds an assignment: without one, there is nothing to hold a lease on. */
  assigned(held: boolean): void {
    this.#assigned = held;
    this.#publish();
  }

  /** The session is gone (lost, or the member left): nothing holds until the coordinator answers again. */
  forget(): void {
    this.#anchor = undefined;
    this.#publish();
  }

  /** An assignment is held and its session surely ended: stop acting on it. */
  expired(): boolean {
    return this.#assigned && this.#anchor !== undefined && performance.now() - this.#anchor > this.#sessionMs;
  }

  /** Milliseconds since the anchor (for messages). */
  sinceAnchorMs(): number {
    return performance.now() - (this.#anchor ?? 0);
  }

  /** `performance.now()` past which the session has surely ended (Infinity without an anchor). */
  deadline(): number {
    return this.#anchor === undefined ? Infinity : this.#anchor + this.#sessionMs + 1;
  }

  /** Whether the coordinator surely still counts the member, with an assignment. */
  holds(): boolean {
    return this.#lease.holds();
  }

  #publish(): void {
    const anchor = this.#anchor;
    if (!this.#assigned || anchor === undefined) this.#lease.end();
    else if (this.#requestSentAt !== undefined && this.#requestSentAt - anchor <= this.#sessionMs) this.#lease.holdOpenEnded();
    else this.#lease.holdUntil(monotonicMicros() + BigInt(Math.floor((anchor + this.#sessionMs - performance.now()) * 1000)));
    this.#onLease?.(this.#lease.until());
  }
}

import type { ValueState } from '../value-state.ts';
import type { StateTtl } from './state-ttl.ts';

/** What a TTL'd handle adds: the check a sweep runs for a key it found idle. @internal */
export interface ExpiringState {
  /** Removes what expired of the current key's state (and its times); whether anything was removed. */
  expireIfIdle(): boolean;
}

/**
 * What the three TTL'd handles share: the clock they judge expiry by, the state's time-to-live, and the key's time
 * in the companion value state (`ttlStampsName`). Something last used at `t` has expired once `now - t >= afterMs`,
 * i.e. when `t` is at or before {@link cutoff}, the test the sweeps use too. @internal
 */
export abstract class TtlHandleBase implements ExpiringState {
  constructor(
    /** The key's time: its last use (value state), or a time no entry's last use is older than (map, list). */
    readonly keyStamp: ValueState<number>,
    readonly now: () => number,
    readonly ttl: StateTtl,
  ) {}

  /** The latest last-use time that has expired now. */
  protected cutoff(): number {
    return this.now() - this.ttl.afterMs;
  }

  abstract expireIfIdle(): boolean;
}

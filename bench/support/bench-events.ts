/**
 * The records every Kafka benchmark produces: ~100-byte JSON values (the size of the reference figures measured against real Kafka), one of
 * `BENCH_USERS` users each, so baselines and Sluice jobs read identical data.
 */
export interface BenchEvent {
  id: number;
  user: string;
  ts: number;
  pad: string;
}

export const BENCH_USERS = 10_000;

/** The JSON value of event `i`, padded to `bytes` (default 100). */
export function benchEventValue(i: number, bytes = 100): string {
  const base = JSON.stringify({ id: i, user: `user-${i % BENCH_USERS}`, ts: 1_700_000_000_000 + i, pad: '' });
  return base.replace('"pad":""', `"pad":"${'x'.repeat(Math.max(0, bytes - base.length))}"`);
}

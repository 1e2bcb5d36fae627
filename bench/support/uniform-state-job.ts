/**
 * A keyed count over `keys` keys (default 2M) with uniformly random updates, for bench/incremental-checkpoints.ts:
 * `keys` records fill the state (every key once), then `updates` records (default 5 × keys) hit keys drawn
 * uniformly at random. `checkpoints`: `none`, `full` or `incremental`, every `intervalMs` (default 1 s). p = 1, or
 * BENCH_PARALLELISM.
 * A module of its own so worker threads can import it.
 */
import { datagen } from '../../connectors/dev/index.ts';
import { defineJob } from '../../runtime/api/index.ts';
import { discardSink } from './discard-sink.ts';

const mode = process.env['BENCH_CHECKPOINTS'] ?? 'incremental';
const intervalMs = Number(process.env['BENCH_INTERVAL_MS'] ?? 1_000);

/** A 32-bit mix of `i` (murmur3's finaliser): deterministic, uniform over the key space. */
function mix(i: number): number {
  let h = Math.imul(i ^ (i >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export default defineJob(
  {
    name: 'bench-uniform-state',
    parallelism: Number(process.env['BENCH_PARALLELISM'] ?? 1),
    ...(mode === 'none' ? {} : { checkpoints: { intervalMs, incremental: mode === 'incremental' } }),
  },
  (env, params) => {
    const keys = params.number('keys', 2_000_000);
    const updates = params.number('updates', 5 * keys);
    env
      .source(datagen({ count: keys + updates, record: (i) => ({ key: `k${i < keys ? i : mix(i) % keys}`, n: 1 }) }))
      .keyBy((r) => r.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
      .sink(discardSink({ count: 0 }));
  },
);

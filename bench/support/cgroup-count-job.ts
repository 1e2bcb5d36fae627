/**
 * A CPU-bound keyed count at parallelism 2 for bench/workers-cpu-limit.ts: RECORDS records (default 12M) over 50k
 * keys, checkpoints every second, results dropped. A module of its own so `sluice run` and its workers can load it.
 */
import { datagen } from '../../connectors/dev/index.ts';
import { defineJob } from '../../runtime/api/index.ts';
import { discardSink } from './discard-sink.ts';

export default defineJob({ name: 'bench-cpu-limit', parallelism: 2, checkpoints: { intervalMs: 1_000 } }, (env) => {
  env
    .source(datagen({ count: Number(process.env['RECORDS'] ?? 12_000_000), splits: 2, record: (i: number) => ({ key: `k${i % 50_000}`, n: 1 }) }))
    .keyBy((r) => r.key)
    .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
    .sink(discardSink({ count: 0 }));
});

/**
 * A job whose state grows to `keys` keys (default 1M) and is checkpointed every second while records keep updating
 * them: `3 × keys` records at full speed, p = 1. A module of its own so worker threads can import it
 * (bench/metrics-overhead.ts runs it in-process and on a worker).
 */
import { datagen } from '../../connectors/dev/index.ts';
import { defineJob } from '../../runtime/api/index.ts';
import { discardSink } from './discard-sink.ts';

export default defineJob({ name: 'bench-metrics-large-state', parallelism: 1, checkpoints: { intervalMs: 1_000 } }, (env, params) => {
  const keys = params.number('keys', 1_000_000);
  env
    .source(datagen({ count: 3 * keys, record: (i) => ({ key: `k${i % keys}`, n: 1 }) }))
    .keyBy((r) => r.key)
    .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
    .sink(discardSink({ count: 0 }));
});

// The job of bench/workers-cpu.ts, in its own module because workers import it: datagen → map doing `spin`
// iterations of integer hashing per record (the bench calibrates `spin` to ~2 µs) → keyBy → reduce → discard.
import { datagen } from '../../connectors/dev/index.ts';
import { defineJob } from '../../runtime/api/index.ts';
import { discardSink } from './discard-sink.ts';

const KEYS = 10_000;

/** Work that the JIT cannot drop: a hash chain whose result lands in the record. */
export function spinWork(seed: number, iterations: number): number {
  let h = seed | 0;
  for (let k = 0; k < iterations; k++) h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) + k;
  return h;
}

export default defineJob({ name: 'bench-workers-cpu', parallelism: 2 }, (env, params) => {
  const spin = params.number('spin', 200);
  env
    .source(datagen({ count: params.number('records', 1_000_000), splits: 2, record: (i) => ({ key: `user-${i % KEYS}`, amount: i & 7 }) }))
    .map((r) => ({ key: r.key, amount: r.amount, h: spinWork(r.amount, spin) }))
    .keyBy((r) => r.key)
    .reduce((a, b) => ({ key: a.key, amount: a.amount + b.amount, h: a.h ^ b.h }))
    .sink(discardSink({ count: 0 }));
});

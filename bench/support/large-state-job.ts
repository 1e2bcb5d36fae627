/**
 * A keyed count over `keys` keys (default 10M), for bench/leveldb-state.ts: `keys` records fill the state (every key
 * once), then `updates` records (default 2 × keys) hit keys drawn from BENCH_DIST: `zipf` (rank r with probability
 * ~1/r: a few hot keys, a long cold tail) or `uniform`. BENCH_BACKEND: `heap` or `leveldb`; incremental checkpoints
 * every BENCH_INTERVAL_MS (default 10 s), full ones with BENCH_FULL=1; BENCH_MAX_OPEN_FILES sets the LevelDB backend's
 * `state.maxOpenFiles`.
 * p = 1, in-process: the sink notes when the fill ends in {@link phases}.
 */
import type { Sink } from '../../runtime/api/index.ts';
import { datagen } from '../../connectors/dev/index.ts';
import { defineJob } from '../../runtime/api/index.ts';

const backend = process.env['BENCH_BACKEND'] ?? 'leveldb';
const distribution = process.env['BENCH_DIST'] ?? 'zipf';
const intervalMs = Number(process.env['BENCH_INTERVAL_MS'] ?? 10_000);
const incremental = process.env['BENCH_FULL'] !== '1';
const cacheBytes = Number(process.env['BENCH_CACHE_BYTES'] ?? 64 * 2 ** 20);
/** LevelDB's `max_open_files` for the working database (`state.maxOpenFiles`); unset: the backend's default. */
const maxOpenFiles = process.env['BENCH_MAX_OPEN_FILES'] === undefined ? undefined : Number(process.env['BENCH_MAX_OPEN_FILES']);

/** When the sink saw the first and the `keys`-th record (performance.now()). */
export const phases = { records: 0, firstAt: 0, filledAt: 0 };

/** A 32-bit mix of `i` (murmur3's finaliser): deterministic and uniform. */
function mix(i: number): number {
  let h = Math.imul(i ^ (i >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Key rank for update `i`: Zipf(s = 1) by inverting its continuous CDF ln(r + 1) / ln(keys + 1), or uniform. */
function rankOf(i: number, keys: number): number {
  const u = mix(i) / 2 ** 32;
  if (distribution === 'uniform') return Math.floor(u * keys);
  return Math.min(keys - 1, Math.floor(Math.exp(u * Math.log(keys + 1))) - 1);
}

function phaseSink(keys: number): Sink<unknown> {
  return {
    name: 'phase',
    createWriter: () => ({
      start: async () => {},
      write(records) {
        if (phases.records === 0) phases.firstAt = performance.now();
        const before = phases.records;
        phases.records += records.length;
        if (before < keys && phases.records >= keys) phases.filledAt = performance.now();
      },
      preCommit: async () => undefined,
      commit: async () => {},
      finish: async () => {},
      close: async () => {},
    }),
  };
}

export default defineJob(
  {
    name: 'bench-large-state',
    parallelism: 1,
    workers: 0,
    checkpoints: { intervalMs, incremental },
    state: backend === 'leveldb' ? { backend: 'leveldb', cacheBytes, ...(maxOpenFiles === undefined ? {} : { maxOpenFiles }) } : { backend: 'heap' },
  },
  (env, params) => {
    const keys = params.number('keys', 10_000_000);
    const updates = params.number('updates', 2 * keys);
    env
      .source(datagen({ count: keys + updates, record: (i) => ({ key: `k${i < keys ? i : rankOf(i, keys)}`, n: 1 }) }))
      .keyBy((r) => r.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
      .sink(phaseSink(keys));
  },
);

/**
 * State with a time-to-live (docs/jobs.md, "State that expires"): a keyed count whose keys come and go — each key
 * gets 4 records in a row, then never again (sessions, devices, orders) — in three variants, each in its own process
 * (clean heap, its own peak RSS), at p = 1 in-process, on the heap backend:
 *
 * - `none`: no TTL, the baseline: every key's count stays, so state grows with the keys ever seen;
 * - `idle`: `ttl: { afterMs: 50 }`: a key's count is gone 50 ms after its last record, swept after each batch;
 * - `kept`: `ttl: { afterMs: 3_600_000 }`: nothing expires within the run: the bookkeeping's cost alone.
 *
 * Figures: throughput of `kept` and of `idle` against `none` (ratios), keys with state at the end and peak RSS.
 *
 * Run: `npx tsx bench/state-ttl.ts [records]` (default 4M records, 1M keys); `BACKEND=leveldb` runs all three on the
 * LevelDB backend (its default cache).
 *
 * `KIND=map` runs a map per key instead, whose entries expire one by one: a map of the ids seen per user (10,000
 * users, a new id per record, so 400 ids per user at 4M records), which `kept` keeps whole and `idle` empties of ids
 * older than 50 ms while its user stays busy.
 */
import { datagen } from '../connectors/dev/index.ts';
import { defineJob, mapState, valueState } from '../runtime/api/index.ts';
import { silentLogger } from '../runtime/logging/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { discardSink } from './support/discard-sink.ts';
import { emitFigure } from './support/figure.ts';
import { reportVariant, runVariant } from './support/variant-process.ts';

type Variant = 'none' | 'idle' | 'kept';
const RECORDS = Number(process.argv[2] ?? 4_000_000);
const TTL_MS: Record<Variant, number | undefined> = { none: undefined, idle: 50, kept: 3_600_000 };
const MAP = process.env['KIND'] === 'map';
/** Users of the map variant: each gets a new id every USERS records. */
const USERS = 10_000;

interface VariantResult {
  seconds: number;
  entries: number;
  peakRssMiB: number;
}

if (process.argv[2] === '--variant') reportVariant(await measureVariant(process.argv[3] as Variant, Number(process.argv[4])));

async function measureVariant(variant: Variant, records: number): Promise<VariantResult> {
  const afterMs = TTL_MS[variant];
  const counter = { count: 0 };
  const leveldb = process.env['BACKEND'] === 'leveldb';
  const job = defineJob({ name: `bench-ttl-${variant}`, ...(leveldb ? { state: { backend: 'leveldb' as const } } : {}) }, (env) => {
    if (MAP) {
      env
        .source(datagen({ count: records, record: (i) => ({ key: `user-${i % USERS}`, id: i }) }))
        .keyBy((r) => r.key)
        .process({
          state: { seen: afterMs === undefined ? mapState<number, true>() : mapState<number, true>({ ttl: { afterMs } }) },
          processElement(record, ctx) {
            if (ctx.state.seen.has(record.id)) return 0;
            ctx.state.seen.put(record.id, true);
            return 1;
          },
        })
        .uid('counts')
        .sink(discardSink(counter));
      return;
    }
    env
      .source(datagen({ count: records, record: (i) => ({ key: `device-${i >> 2}` }) }))
      .keyBy((r) => r.key)
      .process({
        state: { count: afterMs === undefined ? valueState<number>() : valueState<number>({ ttl: { afterMs } }) },
        processElement(_record, ctx) {
          const n = (ctx.state.count.value() ?? 0) + 1;
          ctx.state.count.update(n);
          return n;
        },
      })
      .uid('counts')
      .sink(discardSink(counter));
  });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const runner = new JobRunner({ job, workers: 0, logger: silentLogger() });
  const start = performance.now();
  await runner.run();
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  if (counter.count !== records) throw new Error(`${variant}: ${counter.count} of ${records} records out`);
  // Keys with a count at the end (the TTL variants' last-use times are not counted: the state itself is).
  const metric = runner.connectorMetrics().find((m) => m.operator === 'counts')?.metrics.find((m) => m.name === 'sluice_state_entries');
  const entries = metric !== undefined && 'value' in metric ? metric.value : Number.NaN;
  // A map's TTL keeps two companions (a time per key and a map of times per entry), a value's one.
  return { seconds, entries: afterMs === undefined ? entries : entries / (MAP ? 3 : 2), peakRssMiB: peakRss / 2 ** 20 };
}

function variant(name: Variant): Promise<VariantResult> {
  return runVariant<VariantResult>(import.meta.url, [name, String(RECORDS)]);
}

const none = await variant('none');
const kept = await variant('kept');
const idle = await variant('idle');
const rate = (r: VariantResult): number => RECORDS / r.seconds;
const backend = `p = 1 in-process, ${process.env['BACKEND'] === 'leveldb' ? 'LevelDB' : 'heap'} backend`;
const setting = MAP
  ? `a map of ids seen per user: ${RECORDS / 1e6}M records, ${USERS} users, a new id per record, ${backend}`
  : `${RECORDS / 1e6}M records, ${RECORDS / 4e6}M keys of 4 records each, ${backend}`;
const kind = MAP ? 'map entries' : 'keys';
emitFigure({ name: `state/ttl ${kind} throughput, nothing expires (bookkeeping only)`, value: rate(kept), unit: 'records/s', baseline: rate(none), note: `baseline: the same job without ttl; ${setting}` });
emitFigure({ name: `state/ttl ${kind} throughput, idle ${kind} expire after 50 ms`, value: rate(idle), unit: 'records/s', baseline: rate(none), note: `baseline: the same job without ttl; ${setting}` });
emitFigure({ name: `state/ttl keys with state at the end, idle ${kind} expire after 50 ms`, value: idle.entries, unit: 'keys', baseline: none.entries, note: 'baseline: the same job without ttl (every key ever seen)' });
for (const [name, r] of [['none', none], ['kept', kept], ['idle', idle]] as const) {
  emitFigure({ name: `state/ttl ${kind} peak RSS, ${name}`, value: r.peakRssMiB, unit: 'MiB', baseline: none.peakRssMiB, note: 'baseline: the same job without ttl' });
}

/**
 * Watermark alignment (docs/event-time.md): a window join of two sources that cover the same event time at rates
 * ten times apart — `orders`, one record per 100 ms of event time, and `clicks`, one per 10 ms — read as fast as
 * each can. Unaligned, `orders` races through its event time while `clicks` is still at the start, and every order
 * waits in the join's windows for the clicks' watermark; aligned (`maxDriftMs` 60 s), `orders` pauses instead.
 * Each variant runs in its own process (clean heap, its own peak RSS), at p = 1 in-process. Both must join the same
 * pairs.
 *
 * Figures: peak RSS and throughput (input records of both sides per second), aligned against unaligned.
 *
 *   npx tsx bench/watermark-alignment.ts [clicks]     (default 2M clicks, 200k orders)
 */
import { datagen } from '../connectors/dev/index.ts';
import { boundedOutOfOrderness, defineJob, tumblingWindows } from '../runtime/api/index.ts';
import { runJob } from '../runtime/testing/index.ts';
import { discardSink } from './support/discard-sink.ts';
import { emitFigure } from './support/figure.ts';
import { reportVariant, runVariant } from './support/variant-process.ts';

type Variant = 'aligned' | 'unaligned';
const CLICKS = Number(process.argv[2] ?? 2_000_000);
const ORDERS = CLICKS / 10;
const KEYS = 10_000;
const WINDOW_MS = 60_000;
const MAX_DRIFT_MS = 60_000;
/** Some bytes per record, as a decoded record carries: what waits in the windows is what costs memory. */
const PAYLOAD = 'x'.repeat(100);

interface Event {
  readonly key: string;
  readonly ts: number;
  readonly payload: string;
}

interface VariantResult {
  seconds: number;
  peakRssMiB: number;
  pairs: number;
}

if (process.argv[2] === '--variant') reportVariant(await measureVariant(process.argv[3] as Variant, Number(process.argv[4])));

async function measureVariant(variant: Variant, clicks: number): Promise<VariantResult> {
  const counter = { count: 0 };
  const alignment = variant === 'aligned' ? { alignment: { group: 'clock', maxDriftMs: MAX_DRIFT_MS, updateIntervalMs: 100 } } : {};
  const strategy = boundedOutOfOrderness({ maxOutOfOrdernessMs: 0, timestamp: (e: Event) => e.ts, ...alignment });
  const job = defineJob({ name: `bench-alignment-${variant}`, parallelism: 1, workers: 0 }, (env) => {
    const orders = env.source(datagen({ count: clicks / 10, batchSize: 500, record: (i): Event => ({ key: `key-${i % KEYS}`, ts: i * 100, payload: PAYLOAD }) }), { watermarks: strategy });
    const clickStream = env.source(datagen({ count: clicks, batchSize: 500, record: (i): Event => ({ key: `key-${i % KEYS}`, ts: i * 10, payload: PAYLOAD }) }), { watermarks: strategy });
    orders
      .keyBy((o) => o.key)
      .windowJoin(clickStream.keyBy((c) => c.key), tumblingWindows({ sizeMs: WINDOW_MS }))
      .coGroup({ process: (os, cs) => (os.length > 0 && cs.length > 0 ? os.length * cs.length : undefined) })
      .sink(discardSink(counter));
  });
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const start = performance.now();
  await runJob(job);
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return { seconds, peakRssMiB: peakRss / 2 ** 20, pairs: counter.count };
}

function variant(name: Variant): Promise<VariantResult> {
  return runVariant<VariantResult>(import.meta.url, [name, String(CLICKS)]);
}

const unaligned = await variant('unaligned');
const aligned = await variant('aligned');
if (aligned.pairs !== unaligned.pairs) throw new Error(`aligned joined ${aligned.pairs} groups, unaligned ${unaligned.pairs}`);
const records = CLICKS + ORDERS;
const setting = `a window join (coGroup, tumbling ${WINDOW_MS / 1000} s, ${KEYS} keys) of ${ORDERS} orders (one per 100 ms of event time) and ${CLICKS} clicks (one per 10 ms), p = 1 in-process, maxDriftMs ${MAX_DRIFT_MS}`;
emitFigure({ name: 'event-time/watermark alignment: peak RSS', value: aligned.peakRssMiB, unit: 'MiB', baseline: unaligned.peakRssMiB, note: `baseline: the same job unaligned; ${setting}` });
emitFigure({ name: 'event-time/watermark alignment: throughput', value: records / aligned.seconds, unit: 'records/s', baseline: records / unaligned.seconds, note: `baseline: the same job unaligned; ${setting}` });

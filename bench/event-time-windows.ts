/**
 * Event-time windows (issue 17's figure): 10M events, 10k keys, 5 s of out-of-orderness, a 1-minute tumbling count
 * per key, against a hand-written single loop that does the same windowing (a watermark, per-key counts per window,
 * firing when the watermark passes a window's end) over the same events in the same run. Bar ≥ 0.5× the loop.
 * In-process (`workers: 0`) and at parallelism 1, so both run on one thread.
 *
 *   npx tsx bench/event-time-windows.ts [events]
 */
import { datagen } from '../connectors/dev/index.ts';
import { boundedOutOfOrderness, defineJob, tumblingWindows } from '../runtime/api/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { discardSink } from './support/discard-sink.ts';
import { emitFigure, median } from './support/figure.ts';

const EVENTS = Number(process.argv[2] ?? 10_000_000);
const KEYS = 10_000;
const WINDOW_MS = 60_000;
const OUT_OF_ORDERNESS_MS = 5_000;
const RUNS = 3;
const BASE = Date.UTC(2026, 11, 3);

interface Event {
  key: string;
  ts: number;
}

// 1 ms of event time per event, shuffled by up to ±2.5 s; keys are fresh strings, like keys decoded from Kafka.
const makeEvent = (i: number): Event => ({ key: `user-${(i * 7_919) % KEYS}`, ts: BASE + i + ((i * 2_654_435_761) % 5_001) - 2_500 });

/** Every window of every key the events fill: what both sides must emit. */
function expectedWindows(): number {
  const seen = new Set<string>();
  for (let i = 0; i < EVENTS; i++) {
    const e = makeEvent(i);
    seen.add(`${e.key}@${e.ts - (e.ts % WINDOW_MS)}`);
  }
  return seen.size;
}

function loopBaseline(): { perSecond: number; windows: number } {
  const started = performance.now();
  const open = new Map<number, Map<string, number>>(); // window start → key → count
  let maxTs = Number.NEGATIVE_INFINITY;
  let watermark = Number.NEGATIVE_INFINITY;
  let emitted = 0;
  const fireUpTo = (wm: number): void => {
    for (const [start, counts] of open) {
      if (start + WINDOW_MS - 1 > wm) continue;
      for (const [key, count] of counts) if (key.length + count > 0) emitted++;
      open.delete(start);
    }
  };
  for (let i = 0; i < EVENTS; i++) {
    const e = makeEvent(i);
    const start = e.ts - (e.ts % WINDOW_MS);
    if (start + WINDOW_MS - 1 <= watermark) continue; // late: dropped
    let counts = open.get(start);
    if (counts === undefined) open.set(start, (counts = new Map()));
    counts.set(e.key, (counts.get(e.key) ?? 0) + 1);
    if (e.ts > maxTs) maxTs = e.ts;
    // The pipeline's source advances its watermark once per batch of 1,000; so does the loop.
    if (i % 1_000 === 999 && maxTs - OUT_OF_ORDERNESS_MS - 1 > watermark) {
      watermark = maxTs - OUT_OF_ORDERNESS_MS - 1;
      fireUpTo(watermark);
    }
  }
  fireUpTo(Number.POSITIVE_INFINITY);
  return { perSecond: EVENTS / ((performance.now() - started) / 1000), windows: emitted };
}

async function pipeline(): Promise<{ perSecond: number; windows: number }> {
  const counter = { count: 0 };
  const job = defineJob({ name: 'bench-event-time-windows', parallelism: 1 }, (env) => {
    env
      .source(datagen({ count: EVENTS, record: makeEvent }), { watermarks: boundedOutOfOrderness({ maxOutOfOrdernessMs: OUT_OF_ORDERNESS_MS, timestamp: (e: Event) => e.ts }) })
      .keyBy((e) => e.key)
      .window(tumblingWindows({ sizeMs: WINDOW_MS }))
      .aggregate({ createAccumulator: () => 0, add: (n: number) => n + 1, result: (n, window, key) => ({ key, start: window.start, n }) })
      .sink(discardSink(counter));
  });
  const started = performance.now();
  await new JobRunner({ job, workers: 0 }).run();
  return { perSecond: EVENTS / ((performance.now() - started) / 1000), windows: counter.count };
}

const expected = expectedWindows();
const loop: number[] = [];
const ours: number[] = [];
for (let run = 0; run < RUNS; run++) {
  const baseline = loopBaseline();
  const measured = await pipeline();
  if (baseline.windows !== expected || measured.windows !== expected) {
    throw new Error(`windows emitted: loop ${baseline.windows}, pipeline ${measured.windows}, expected ${expected}`);
  }
  loop.push(baseline.perSecond);
  ours.push(measured.perSecond);
  process.stderr.write(`run ${run + 1}: pipeline ${Math.round(measured.perSecond)} events/s, loop ${Math.round(baseline.perSecond)} events/s\n`);
}
emitFigure({
  name: 'event time/1-minute tumbling count, 10k keys, 5 s out-of-orderness',
  value: median(ours),
  unit: 'events/s',
  baseline: median(loop),
  note: 'baseline: the same windowing as a hand-written single loop; bar ≥ 0.5',
});

/**
 * Count windows (docs/event-time.md#count-windows): 5M records, 10k keys, a mean over every 100 records of a key
 * (tumbling), and over a key's last 100 records every 10 (sliding), each against a hand-written single loop that
 * does the same windowing (a count and an accumulator per key; the last 100 values per key in a ring) over the same
 * records in the same run. In-process (`workers: 0`) at parallelism 1, so both run on one thread; no checkpoints
 * unless `BENCH_CHECKPOINTS=1` (incremental, every second).
 *
 *   npx tsx bench/count-windows.ts [records]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datagen } from '../connectors/dev/index.ts';
import { defineJob } from '../runtime/api/index.ts';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { discardSink } from './support/discard-sink.ts';
import { emitFigure, median } from './support/figure.ts';

const RECORDS = Number(process.argv[2] ?? 5_000_000);
const KEYS = Number(process.env['BENCH_KEYS'] ?? 10_000);
const SIZE = 100;
const SLIDE = 10;
const RUNS = 3;
/** `BENCH_CHECKPOINTS=1`: incremental checkpoints every second (the loop takes none), to see what the state costs them. */
const CHECKPOINTS = process.env['BENCH_CHECKPOINTS'] === '1';

interface Reading {
  sensor: string;
  value: number;
}

// Keys are fresh strings, like keys decoded from Kafka.
const makeReading = (i: number): Reading => ({ sensor: `sensor-${(i * 7_919) % KEYS}`, value: i % 1_000 });
const mean = {
  createAccumulator: () => ({ sum: 0, n: 0 }),
  add: (a: { sum: number; n: number }, r: Reading) => ({ sum: a.sum + r.value, n: a.n + 1 }),
  result: (a: { sum: number; n: number }, window: { end: number }, sensor: string | number) => ({ sensor, upTo: window.end, mean: a.sum / a.n }),
};

/** The windows a loop and the pipeline must both fire. */
function expectedWindows(slide: number): number {
  const perKey = new Map<string, number>();
  for (let i = 0; i < RECORDS; i++) perKey.set(makeReading(i).sensor, (perKey.get(makeReading(i).sensor) ?? 0) + 1);
  let windows = 0;
  for (const n of perKey.values()) windows += Math.floor(n / slide);
  return windows;
}

function loopBaseline(slide: number): { perSecond: number; windows: number } {
  const started = performance.now();
  let emitted = 0;
  const sink = (row: { mean: number }): void => {
    if (row.mean >= 0) emitted++;
  };
  if (slide === SIZE) {
    const open = new Map<string, { seen: number; acc: { sum: number; n: number } }>();
    for (let i = 0; i < RECORDS; i++) {
      const r = makeReading(i);
      let w = open.get(r.sensor);
      if (w === undefined) open.set(r.sensor, (w = { seen: 0, acc: mean.createAccumulator() }));
      w.seen++;
      w.acc = mean.add(w.acc, r);
      if (w.seen % SIZE === 0) {
        sink(mean.result(w.acc, { end: w.seen }, r.sensor));
        w.acc = mean.createAccumulator();
      }
    }
  } else {
    const rings = new Map<string, { seen: number; last: Reading[] }>();
    for (let i = 0; i < RECORDS; i++) {
      const r = makeReading(i);
      let ring = rings.get(r.sensor);
      if (ring === undefined) rings.set(r.sensor, (ring = { seen: 0, last: new Array<Reading>(SIZE) }));
      ring.last[ring.seen % SIZE] = r;
      ring.seen++;
      if (ring.seen % slide !== 0) continue;
      let acc = mean.createAccumulator();
      for (let p = Math.max(0, ring.seen - SIZE); p < ring.seen; p++) acc = mean.add(acc, ring.last[p % SIZE] as Reading);
      sink(mean.result(acc, { end: ring.seen }, r.sensor));
    }
  }
  return { perSecond: RECORDS / ((performance.now() - started) / 1000), windows: emitted };
}

async function pipeline(slide: number): Promise<{ perSecond: number; windows: number }> {
  const counter = { count: 0 };
  const job = defineJob({ name: 'bench-count-windows', parallelism: 1, ...(CHECKPOINTS ? { checkpoints: { intervalMs: 1_000, incremental: true } } : {}) }, (env) => {
    env
      .source(datagen({ count: RECORDS, record: makeReading }))
      .keyBy((r) => r.sensor)
      .countWindow(SIZE, slide)
      .aggregate(mean)
      .sink(discardSink(counter));
  });
  const dir = await mkdtemp(join(tmpdir(), 'bench-count-windows-'));
  const store = CHECKPOINTS ? await CheckpointStore.open(dir) : undefined;
  try {
    const started = performance.now();
    await new JobRunner({ job, workers: 0, ...(store === undefined ? {} : { store }) }).run();
    return { perSecond: RECORDS / ((performance.now() - started) / 1000), windows: counter.count };
  } finally {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

for (const slide of [SIZE, SLIDE]) {
  const expected = expectedWindows(slide);
  const loop: number[] = [];
  const ours: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const baseline = loopBaseline(slide);
    const measured = await pipeline(slide);
    if (baseline.windows !== expected || measured.windows !== expected) {
      throw new Error(`windows emitted: loop ${baseline.windows}, pipeline ${measured.windows}, expected ${expected}`);
    }
    loop.push(baseline.perSecond);
    ours.push(measured.perSecond);
    process.stderr.write(`slide ${slide}, run ${run + 1}: pipeline ${Math.round(measured.perSecond)} records/s, loop ${Math.round(baseline.perSecond)} records/s\n`);
  }
  emitFigure({
    name: `windows/count window of ${SIZE}${slide === SIZE ? ', tumbling' : `, sliding by ${slide}`}, ${KEYS / 1000}k keys, aggregate`,
    value: median(ours),
    unit: 'records/s',
    baseline: median(loop),
    note: `baseline: the same windowing as a hand-written single loop in the same run; in-process, p = 1, ${CHECKPOINTS ? 'incremental checkpoints every 1 s (the loop takes none)' : 'no checkpoints'}`,
  });
}

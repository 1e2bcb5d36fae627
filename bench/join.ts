/**
 * Two-input keyed join (issue's figure): orders and updates, 5M records each from two datagen sources, keyed by the
 * same key (100k keys) and connected; processElement2 keeps each key's latest update in valueState, processElement1
 * emits each order joined with it (or buffers the order in listState until its key's first update, which emits it),
 * into a counting sink: exactly one output per order. Against a hand-written loop doing the same join with Maps over
 * the same generated records, in the same run. Bar ≥ 0.5× the loop at p = 1, in-process (one thread each). Also p = 2
 * on 2 worker threads, reported against the same loop. Rates count input records of both sides (2 × records).
 *
 *   npx tsx bench/join.ts [records per side] [runs]
 */
import { availableParallelism } from 'node:os';
import { JobParams } from '../runtime/api/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import joinJob, { JOINED_METRIC, KEYS, makeOrder, makeUpdate, type Joined, type Order } from './support/join-job.ts';
import { emitFigure, median } from './support/figure.ts';
import { prepareWorkers } from './support/worker-start.ts';

const RECORDS = Number(process.argv[2] ?? 5_000_000);
const RUNS = Number(process.argv[3] ?? 3);
const INPUT = 2 * RECORDS;
if (!(RECORDS >= KEYS)) throw new Error(`records per side must be at least ${KEYS} (the keys), so that every order's key gets an update`);
const jobModule = new URL('./support/join-job.ts', import.meta.url);

/** The same join by hand: a Map of each key's latest value, a Map of orders waiting for their key's first update. */
function loopBaseline(): number {
  const started = performance.now();
  const values = new Map<string, number>();
  const waiting = new Map<string, Order[]>();
  let emitted = 0;
  // Outputs go to the sink in batches, as the pipeline's do (a batch per 1,000 records of input).
  let out: Joined[] = [];
  const write = (batch: Joined[]): void => void (emitted += batch.length);
  for (let i = 0; i < RECORDS; i++) {
    const order = makeOrder(i);
    const value = values.get(order.key);
    if (value === undefined) {
      const list = waiting.get(order.key);
      if (list === undefined) waiting.set(order.key, [order]);
      else list.push(order);
    } else {
      out.push({ id: order.id, key: order.key, value });
    }
    const update = makeUpdate(i);
    if (!values.has(update.key)) {
      const list = waiting.get(update.key);
      if (list !== undefined) {
        for (const o of list) out.push({ id: o.id, key: o.key, value: update.value });
        waiting.delete(update.key);
      }
    }
    values.set(update.key, update.value);
    if (i % 500 === 499) {
      write(out);
      out = [];
    }
  }
  write(out);
  if (emitted !== RECORDS || waiting.size !== 0 || values.size !== KEYS) throw new Error(`baseline joined ${emitted} of ${RECORDS}`);
  return INPUT / ((performance.now() - started) / 1000);
}

/** Input records per second of the job at `parallelism`, in this thread (workers 0) or on worker threads. */
async function pipeline(parallelism: number, workers: number): Promise<number> {
  const params = new JobParams([['records', String(RECORDS)], ['parallelism', String(parallelism)]]);
  const runner = new JobRunner({ job: joinJob, params, parallelism, workers, ...(workers === 0 ? {} : { jobModule }) });
  const started = performance.now();
  await runner.run();
  const perSecond = INPUT / ((performance.now() - started) / 1000);
  let out = 0;
  for (const { metrics } of runner.connectorMetrics()) for (const m of metrics) if (m.name === JOINED_METRIC && m.type === 'counter') out += m.value;
  if (out !== RECORDS) throw new Error(`p = ${parallelism}, workers ${workers}: joined ${out} of ${RECORDS}`);
  if (runner.workers !== workers) throw new Error(`asked for ${workers} workers, ran on ${runner.workers}`);
  return perSecond;
}

const loop: number[] = [];
const p1: number[] = [];
const p2: number[] = [];
for (let run = 0; run < RUNS; run++) {
  loop.push(loopBaseline());
  p1.push(await pipeline(1, 0));
  await prepareWorkers('warm', 2);
  p2.push(await pipeline(2, 2));
  process.stderr.write(`run ${run + 1}: loop ${Math.round(loop.at(-1)!)}, p=1 ${Math.round(p1.at(-1)!)}, p=2 on 2 workers ${Math.round(p2.at(-1)!)} records/s\n`);
}
await prepareWorkers('cold', 0);
const baseline = median(loop);
const workload = `2 × ${RECORDS} records, ${KEYS} keys, median of ${RUNS}`;
emitFigure({
  name: 'join/two-input keyed join p=1',
  value: median(p1),
  unit: 'records/s',
  baseline,
  note: `baseline: the same join as a hand-written Map-based loop over the same records; in-process, one thread each; ${workload}; bar ≥ 0.5`,
});
emitFigure({
  name: 'join/two-input keyed join p=2, workers 2',
  value: median(p2),
  unit: 'records/s',
  baseline,
  note: `baseline: the same loop (one thread); booted workers; ${workload}; ${availableParallelism()} cores visible; reported`,
});

/**
 * Issue 15's figure: a CPU-bound pipeline at p = 2 on 2 worker threads against the same job in one thread
 * (workers 0), in the same run. datagen → map doing ~2 µs of work per record → keyBy → reduce → discard. The bar is
 * ≥ 1.6× on 2 cores; a shared or busy machine gives less, so the figure reports the cores it saw.
 *
 * Figures: end to end (an attempt on workers pays their start: each imports the runtime and the job module and
 * builds the plan), cold (each worker boots with the attempt, as the first attempt of a process does) and on booted
 * spares (worker-pool.ts: a restart or a rescale after a failed or stopped attempt); that start alone (a 1,000-record run);
 * and the throughput once started (cold end to end minus the cold start, a derived figure).
 *
 *   npx tsx bench/workers-cpu.ts [records] [runs]
 */
import { availableParallelism } from 'node:os';
import { JobParams } from '../runtime/api/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import cpuJob, { spinWork } from './support/cpu-job.ts';
import { emitFigure, median } from './support/figure.ts';
import { prepareWorkers } from './support/worker-start.ts';

// ~11 s in one thread: one-time costs (the workers' start, 60–190 ms, reported on its own) stay small against the
// pipeline's throughput; at 1M records (~2.2 s) a cold start alone was 5–9 % of the run.
const RECORDS = Number(process.argv[2] ?? 5_000_000);
const RUNS = Number(process.argv[3] ?? 3);
const TARGET_NS = 2_000;
const jobModule = new URL('./support/cpu-job.ts', import.meta.url);

/** Iterations of spinWork that take ~2 µs on this machine (median of a few timed batches). */
function calibrate(): number {
  const iterations = 1_000;
  const batches: number[] = [];
  let sink = 0;
  for (let b = 0; b < 15; b++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 1_000; i++) sink ^= spinWork(i, iterations);
    batches.push(Number(process.hrtime.bigint() - started) / 1_000 / iterations);
  }
  if (sink === 42) process.stderr.write('');
  return Math.max(1, Math.round(TARGET_NS / median(batches)));
}

/** Seconds to run `records` records. */
async function run(workers: number, spin: number, records: number): Promise<number> {
  const runner = new JobRunner({ job: cpuJob, params: new JobParams([['records', String(records)], ['spin', String(spin)]]), workers, jobModule });
  const started = performance.now();
  await runner.run();
  const seconds = (performance.now() - started) / 1000;
  const reduced = runner.metrics().at(-1)?.recordsIn ?? 0;
  if (reduced !== records) throw new Error(`workers ${workers}: the reduce saw ${reduced} of ${records} records`);
  return seconds;
}

const spin = calibrate();
const inProcess: number[] = [];
const onWorkers = { cold: [] as number[], warm: [] as number[] };
const startInProcess: number[] = [];
const startOnWorkers = { cold: [] as number[], warm: [] as number[] };
await run(2, spin, 1_000); // builds the worker bundle, as the first attempt of any job on workers does
for (let r = 0; r < RUNS; r++) {
  inProcess.push(await run(0, spin, RECORDS));
  startInProcess.push(await run(0, spin, 1_000));
  for (const start of ['cold', 'warm'] as const) {
    await prepareWorkers(start, 2);
    onWorkers[start].push(await run(2, spin, RECORDS));
    await prepareWorkers(start, 2);
    startOnWorkers[start].push(await run(2, spin, 1_000));
  }
}
await prepareWorkers('cold', 0);
const cores = availableParallelism();
const workload = `${RECORDS} records, ~2 µs of map work each (${spin} iterations), median of ${RUNS}; ${cores} cores visible`;
for (const start of ['cold', 'warm'] as const) {
  const how = start === 'cold' ? 'the workers boot with the attempt (the first one of a process)' : 'the attempt takes booted spares (a restart or a rescale after a failed or stopped attempt)';
  emitFigure({
    name: `cpu-bound keyed pipeline, p = 2, workers 2, end to end, ${start === 'cold' ? 'cold start' : 'booted workers'}`,
    value: RECORDS / median(onWorkers[start]),
    unit: 'records/s',
    baseline: RECORDS / median(inProcess),
    note: `baseline: the same job at p = 2 in one thread (workers 0); ${how}; ${workload}; bar ≥ 1.6× on 2 idle cores`,
  });
  emitFigure({
    name: `start of an attempt on 2 workers (1,000-record job), ${start === 'cold' ? 'cold' : 'booted workers'}`,
    value: median(startOnWorkers[start]) * 1000,
    unit: 'ms',
    baseline: median(startInProcess) * 1000,
    note: 'baseline: the same job in one thread (workers 0)',
  });
}
emitFigure({
  name: 'cpu-bound keyed pipeline, p = 2, workers 2, once started (derived)',
  value: RECORDS / Math.max(1e-3, median(onWorkers.cold) - median(startOnWorkers.cold)),
  unit: 'records/s',
  baseline: RECORDS / median(inProcess),
  note: `cold end to end minus the median cold start above; ${workload}`,
});

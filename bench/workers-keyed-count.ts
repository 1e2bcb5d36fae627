/**
 * Issue 15's figures for a cheap job: the keyed count (datagen → map → keyBy → reduce → discard, no map work) at
 * p = 2 on 1 and on 2 worker threads, each against the same job in one thread (workers 0), in the same run. The bar
 * for one worker is ≥ 0.95× (one worker may cost the hop of control messages and its start, nothing more); two
 * workers are reported (a cheap record costs about as much to cross threads as to count).
 *
 * End to end includes the attempt's start on workers (worker-bundle.ts: the main thread bundles the job once per
 * process, then each worker loads one file), measured twice: cold (each worker boots with the attempt, as the first
 * attempt of a process does) and on booted spares (worker-pool.ts: a restart or a rescale after a failed or stopped attempt).
 * "Once started" subtracts the median cold start of a 1,000-record run.
 *
 *   npx tsx bench/workers-keyed-count.ts [records] [runs]
 */
import { availableParallelism } from 'node:os';
import { JobParams } from '../runtime/api/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import cpuJob from './support/cpu-job.ts';
import { prepareWorkers } from './support/worker-start.ts';
import { emitFigure, median } from './support/figure.ts';

// ~5.5 s in one thread: one-time costs (the workers' start, 50–190 ms, reported on its own) stay small against the
// pipeline's throughput; at 10M records (~1.8 s) a cold start alone was 5–9 % of the run.
const RECORDS = Number(process.argv[2] ?? 30_000_000);
const RUNS = Number(process.argv[3] ?? 3);
const jobModule = new URL('./support/cpu-job.ts', import.meta.url);

/** Seconds to count `records` records on `workers` worker threads (0: in-process). */
async function run(workers: number, records: number): Promise<number> {
  const runner = new JobRunner({ job: cpuJob, params: new JobParams([['records', String(records)], ['spin', '0']]), workers, jobModule });
  const started = performance.now();
  await runner.run();
  const seconds = (performance.now() - started) / 1000;
  const reduced = runner.metrics().at(-1)?.recordsIn ?? 0;
  if (reduced !== records) throw new Error(`workers ${workers}: the reduce saw ${reduced} of ${records} records`);
  if (runner.workers !== workers) throw new Error(`asked for ${workers} workers, ran on ${runner.workers}`);
  return seconds;
}

type Start = 'cold' | 'warm';
const inProcessSeconds: number[] = [];
const seconds: Record<Start, Record<1 | 2, number[]>> = { cold: { 1: [], 2: [] }, warm: { 1: [], 2: [] } };
const starts: Record<Start, Record<1 | 2, number[]>> = { cold: { 1: [], 2: [] }, warm: { 1: [], 2: [] } };
await run(2, 1_000); // builds the worker bundle, as the first attempt of any job on workers does
for (let r = 0; r < RUNS; r++) {
  inProcessSeconds.push(await run(0, RECORDS));
  for (const start of ['cold', 'warm'] as const) {
    for (const workers of [1, 2] as const) {
      await prepareWorkers(start, workers);
      seconds[start][workers].push(await run(workers, RECORDS));
      await prepareWorkers(start, workers);
      starts[start][workers].push(await run(workers, 1_000));
    }
  }
}
await prepareWorkers('cold', 0);
const workload = `${RECORDS} records over 10,000 keys, p = 2, median of ${RUNS}; ${availableParallelism()} cores visible`;
const inProcess = RECORDS / median(inProcessSeconds);
const ms = (values: number[]): number => Math.round(median(values) * 1000);
for (const workers of [1, 2] as const) {
  const bar = workers === 1 ? 'bar ≥ 0.95×' : 'reported';
  emitFigure({
    name: `keyed count p = 2, workers ${workers}, end to end, cold start`,
    value: RECORDS / median(seconds.cold[workers]),
    unit: 'records/s',
    baseline: inProcess,
    note: `baseline: the same job in one thread (workers 0); the workers boot with the attempt (the first one of a process; start ${ms(starts.cold[workers])} ms); ${workload}; ${bar}`,
  });
  emitFigure({
    name: `keyed count p = 2, workers ${workers}, end to end, booted workers`,
    value: RECORDS / median(seconds.warm[workers]),
    unit: 'records/s',
    baseline: inProcess,
    note: `baseline: the same job in one thread (workers 0); the attempt takes booted spares (a restart or a rescale after a failed or stopped attempt; start ${ms(starts.warm[workers])} ms); ${workload}; ${bar}`,
  });
  emitFigure({
    name: `keyed count p = 2, workers ${workers}, once started (derived)`,
    value: RECORDS / Math.max(1e-3, median(seconds.cold[workers]) - median(starts.cold[workers])),
    unit: 'records/s',
    baseline: inProcess,
    note: `cold end to end minus the median cold start of a 1,000-record run (${ms(starts.cold[workers])} ms)`,
  });
}

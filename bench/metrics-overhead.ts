/**
 * Issue 20's figures for Prometheus metrics (runtime/metrics):
 * - the keyed-count pipeline (datagen → map → keyBy → reduce → discard, p = 2, in one thread) with its metrics served
 *   and scraped over HTTP every second, against the same pipeline without metrics, in the same run: bar ≥ 0.97×;
 * - the slowest scrape (request to last byte, over HTTP in the same process) while a job with 1M keys of state takes
 *   checkpoints every second, from its first completed checkpoint on: bar < 50 ms. Twice: the job on a worker thread
 *   (the default), and in-process, where a scrape also waits for the major garbage collections of the job's heap.
 *
 *   npx tsx bench/metrics-overhead.ts [records] [runs]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datagen } from '../connectors/dev/index.ts';
import { defineJob, type JobDefinition } from '../runtime/api/index.ts';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { silentLogger } from '../runtime/logging/index.ts';
import { serveMetrics, SluiceMetrics } from '../runtime/metrics/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { discardSink } from './support/discard-sink.ts';
import largeStateJob from './support/large-state-job.ts';
import { emitFigure, median } from './support/figure.ts';

const RECORDS = Number(process.argv[2] ?? 10_000_000);
const LARGE_STATE_MODULE = new URL('./support/large-state-job.ts', import.meta.url);
const RUNS = Number(process.argv[3] ?? 3);

/** Runs `job` to its end; with `scrapeEveryMs`, its metrics are served and scraped meanwhile. Answers seconds and scrape latencies. */
async function run(job: JobDefinition, store: CheckpointStore | undefined, scrapeEveryMs?: number, workers = 0): Promise<{ seconds: number; scrapes: number[] }> {
  const runner = new JobRunner({ job, workers, ...(workers === 0 ? {} : { jobModule: LARGE_STATE_MODULE }), ...(store === undefined ? {} : { store, restore: { from: 'none' } }) });
  const scrapes: number[] = [];
  let server: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (scrapeEveryMs !== undefined) {
    const metrics = new SluiceMetrics();
    metrics.jobs.track(job.options.name, runner);
    server = await serveMetrics(metrics, { host: '127.0.0.1', port: 0, logger: silentLogger() });
    const url = `${server.url}/metrics`;
    // Prometheus scrapes from the start: the first scrape of a process (prom-client's first collection, code not yet
    // compiled) takes ~50 ms and is no measure of a scrape during a checkpoint, so it happens before the job runs.
    await (await fetch(url)).text();
    let busy = false;
    // Scrapes count once the first checkpoint completed: from then on the state holds all its keys (the figure is
    // about scrapes while checkpoints run, not while the state's tables grow).
    let counting = store === undefined;
    runner.events.subscribe((e) => {
      if (e.type === 'checkpoint-completed') counting = true;
    });
    timer = setInterval(() => {
      if (busy || !counting) return;
      busy = true;
      const started = performance.now();
      void fetch(url)
        .then((r) => r.text())
        .then(() => scrapes.push(performance.now() - started))
        .finally(() => (busy = false));
    }, scrapeEveryMs);
  }
  const started = performance.now();
  try {
    await runner.run();
    return { seconds: (performance.now() - started) / 1000, scrapes };
  } finally {
    clearInterval(timer);
    await server?.close();
  }
}

function keyedCount(): JobDefinition {
  const counter = { count: 0 };
  return defineJob({ name: 'bench-metrics-keyed-count', parallelism: 2 }, (env) => {
    env
      .source(datagen({ count: RECORDS, splits: 2, record: (i) => ({ key: `user-${i % 10_000}`, amount: i & 7 }) }))
      .map((r) => ({ key: r.key, amount: r.amount * 2 }))
      .keyBy((r) => r.key)
      .reduce((a, b) => ({ key: a.key, amount: a.amount + b.amount }))
      .sink(discardSink(counter));
  });
}

const off: number[] = [];
const on: number[] = [];
for (let r = 0; r < RUNS; r++) {
  off.push((await run(keyedCount(), undefined)).seconds);
  on.push((await run(keyedCount(), undefined, 1_000)).seconds);
}
emitFigure({
  name: 'metrics/keyed-count p = 2 with metrics scraped every 1 s',
  value: RECORDS / median(on),
  unit: 'records/s',
  baseline: RECORDS / median(off),
  note: `baseline: the same pipeline without metrics; ${RECORDS} records, median of ${RUNS}; bar ≥ 0.97×`,
});

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-metrics-'));
try {
  const store = await CheckpointStore.open(dir);
  try {
    // On a worker (the default of sluice run and the service), the thread that serves scrapes only coordinates; in
    // process (--workers 0), scrapes share the thread, and its garbage collections, with the 1M keys.
    for (const workers of [1, 0]) {
      const { scrapes } = await run(largeStateJob, store, 20, workers);
      const sorted = [...scrapes].sort((a, b) => a - b);
      emitFigure({
        name: `metrics/slowest scrape while 1M keys are checkpointed every 1 s (${workers === 0 ? 'in-process, --workers 0' : 'job on a worker thread'})`,
        value: sorted.at(-1) ?? Number.NaN,
        unit: 'ms',
        baseline: 50,
        note: `${scrapes.length} scrapes every 20 ms over HTTP from the first completed checkpoint on (after a warm-up scrape before the job); median ${median(scrapes).toFixed(1)} ms, 99th percentile ${(sorted[Math.floor(sorted.length * 0.99)] ?? Number.NaN).toFixed(1)} ms; bar < 50 ms (ratio < 1)`,
      });
    }
  } finally {
    await store.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

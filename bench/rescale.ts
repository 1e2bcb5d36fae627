/**
 * Rescale 4 → 8 of a keyed count holding 1,000,000 keys of state.
 *
 * Figures (one JSON line each):
 * - rescale/trigger-to-processing-1M-keys: from `runner.rescale(8)` until the new attempt has emitted records again
 *   (checkpoint, stop, load, redistribute key groups, restore, start), against the 5 s bar
 * - rescale/throughput-after-vs-before: records/s over the same window length after the rescale vs before it. Every
 *   subtask shares one thread today, so this shows the rescale costs nothing lasting — not that 8 beats 4.
 *
 * Run: `npx tsx bench/rescale.ts` (KEYS=200000 for a quicker run).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { datagen } from '../connectors/dev/index.ts';
import { defineJob } from '../runtime/api/index.ts';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { discardSink } from './support/discard-sink.ts';
import { emitFigure } from './support/figure.ts';

const KEYS = Number(process.env['KEYS'] ?? 1_000_000);
const WINDOW_MS = 3_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-rescale-'));
  const store = await CheckpointStore.open(dir);
  const counter = { count: 0 };
  const job = defineJob({ name: 'bench-rescale', parallelism: 4, checkpoints: { intervalMs: 60_000 } }, (env) => {
    env
      .source(datagen({ splits: 8, batchSize: 1_000, record: (i) => ({ key: `k${i % KEYS}`, n: 1 }) }))
      .uid('gen')
      .keyBy((r) => r.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
      .uid('count')
      .sink(discardSink(counter));
  });
  const runner = new JobRunner({ job, store });
  const done = runner.run();

  // Fill the state: every key seen at least once.
  while (counter.count < KEYS) await sleep(50);
  const before = await rate(counter);

  const triggered = performance.now();
  const record = await runner.rescale(8);
  const restartedAt = counter.count;
  while (counter.count === restartedAt) await sleep(1);
  const toProcessing = performance.now() - triggered;
  const after = await rate(counter);

  runner.cancel();
  await done;
  await store.close();
  await rm(dir, { recursive: true, force: true });

  const label = KEYS === 1_000_000 ? '1M' : String(KEYS);
  emitFigure({ name: `rescale/trigger-to-processing-${label}-keys`, value: toProcessing, unit: 'ms', baseline: 5_000, note: `bar < 5000 ms; rescale record says ${record.durationMs} ms to the new attempt, checkpoint ${record.checkpointId}` });
  emitFigure({ name: 'rescale/throughput-after-vs-before', value: after, unit: 'records/s', baseline: before, note: 'p=8 after vs p=4 before, same run; one thread' });
}

async function rate(counter: { count: number }): Promise<number> {
  const start = counter.count;
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  return ((counter.count - start) * 1000) / (performance.now() - t0);
}

await main();

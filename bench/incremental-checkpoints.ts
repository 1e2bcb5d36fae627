/**
 * Incremental checkpoints of large keyed state (#19): a keyed count over 2M keys with uniformly random updates,
 * checkpointed every second, p = 1 on one worker thread (the default placement; the main thread writes LevelDB).
 * Each variant runs in its own process (clean heap, its own peak RSS):
 *
 * - throughput with incremental checkpoints against the same job without checkpoints (bar ≥ 0.8×), and with full ones;
 * - checkpoint duration (trigger to durable) of the checkpoints after the state is filled: median and max, bar < 1 s;
 * - bytes written per checkpoint, incremental against full;
 * - peak RSS of each variant.
 *
 * Run: `npx tsx bench/incremental-checkpoints.ts` (KEYS=500000 for a quicker run; BENCH_PARALLELISM=2 BENCH_WORKERS=2
 * runs the job at p = 2 on two workers; the figures keep their names).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore, type CheckpointManifest } from '../runtime/checkpoint/index.ts';
import { JobParams } from '../runtime/api/index.ts';
import { silentLogger } from '../runtime/logging/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { emitFigure, median } from './support/figure.ts';
import { reportVariant, runVariant } from './support/variant-process.ts';

const KEYS = Number(process.env['KEYS'] ?? 2_000_000);
const UPDATES = 5 * KEYS;
const MODULE = new URL('./support/uniform-state-job.ts', import.meta.url);

interface VariantResult {
  seconds: number;
  peakRssMiB: number;
  checkpoints: Array<{ id: number; durationMs: number; writtenBytes: number; totalBytes: number; at: number }>;
  filledAt: number;
}

if (process.argv[2] === '--variant') reportVariant(await measureVariant());

async function measureVariant(): Promise<VariantResult> {
  const { default: job } = (await import(MODULE.href)) as { default: import('../runtime/api/index.ts').JobDefinition };
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-inc-'));
  const store = job.options.checkpoints === undefined ? undefined : await CheckpointStore.open(dir);
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const runner = new JobRunner({
    job,
    workers: Number(process.env['BENCH_WORKERS'] ?? 1),
    jobModule: MODULE,
    params: new JobParams([['keys', String(KEYS)], ['updates', String(UPDATES)]]),
    logger: silentLogger(),
    ...(store === undefined ? {} : { store, restore: { from: 'none' } }),
  });
  const checkpoints: VariantResult['checkpoints'] = [];
  const start = performance.now();
  runner.events.subscribe((e) => {
    if (e.type !== 'checkpoint-completed') return;
    const m: CheckpointManifest = e.manifest;
    checkpoints.push({ id: m.id, durationMs: m.durationMs, writtenBytes: m.writtenBytes ?? m.totalBytes, totalBytes: m.totalBytes, at: (performance.now() - start) / 1000 });
  });
  await runner.run();
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  await store?.close();
  await rm(dir, { recursive: true, force: true });
  // The state is filled once KEYS of KEYS + UPDATES records went through; records flow at a steady rate.
  return { seconds, peakRssMiB: peakRss / 2 ** 20, checkpoints, filledAt: (seconds * KEYS) / (KEYS + UPDATES) };
}

function variant(mode: 'none' | 'full' | 'incremental'): Promise<VariantResult> {
  return runVariant<VariantResult>(import.meta.url, [], { BENCH_CHECKPOINTS: mode });
}

const records = KEYS + UPDATES;
const none = await variant('none');
// The full variant is slow (a full snapshot of the whole state every second): FULL=0 skips it.
const full = process.env['FULL'] === '0' ? undefined : await variant('full');
const incremental = await variant('incremental');
const rate = (r: VariantResult): number => records / r.seconds;
if (process.env['VERBOSE'] === '1') {
  process.stderr.write(`filled at ${incremental.filledAt.toFixed(1)} s of ${incremental.seconds.toFixed(1)} s\n`);
  for (const c of incremental.checkpoints) process.stderr.write(`  ${c.id} at ${c.at.toFixed(1)} s: ${c.durationMs} ms, ${(c.writtenBytes / 2 ** 20).toFixed(1)} of ${(c.totalBytes / 2 ** 20).toFixed(1)} MiB\n`);
}
/** Checkpoints that started once the state was filled (every one of them covers all KEYS keys). */
const steady = (r: VariantResult): VariantResult['checkpoints'] => r.checkpoints.filter((c) => c.at - c.durationMs / 1000 > r.filledAt);
const label = `${KEYS / 1e6}M keys`;
const setting = `${label}, ${UPDATES / 1e6}M uniform updates, checkpoints every 1 s, p = 1 on a worker thread`;

emitFigure({ name: `state/incremental-checkpoints throughput, ${label}`, value: rate(incremental), unit: 'records/s', baseline: rate(none), note: `baseline: the same job without checkpoints; ${setting}; bar ≥ 0.8×` });
if (full !== undefined) emitFigure({ name: `state/full-checkpoints throughput, ${label}`, value: rate(full), unit: 'records/s', baseline: rate(none), note: `baseline: the same job without checkpoints; ${setting}` });
for (const [name, r] of [['incremental', incremental], ['full', full]] as const) {
  if (r === undefined) continue;
  const s = steady(r);
  if (s.length === 0) continue;
  emitFigure({ name: `state/${name} checkpoint duration (median), ${label}`, value: median(s.map((c) => c.durationMs)), unit: 'ms', baseline: 1000, note: `${s.length} checkpoints after the state was filled, trigger to durable; baseline: the 1 s bar` });
  const sorted = s.map((c) => c.durationMs).sort((a, b) => a - b);
  emitFigure({ name: `state/${name} checkpoint duration (p90), ${label}`, value: sorted[Math.floor(0.9 * (sorted.length - 1))]!, unit: 'ms', baseline: 1000, note: 'baseline: the 1 s bar' });
  emitFigure({ name: `state/${name} checkpoint duration (max), ${label}`, value: Math.max(...s.map((c) => c.durationMs)), unit: 'ms', baseline: 1000, note: 'baseline: the 1 s bar' });
  emitFigure({ name: `state/${name} checkpoint bytes written (median), ${label}`, value: median(s.map((c) => c.writtenBytes)) / 2 ** 20, unit: 'MiB', baseline: median(s.map((c) => c.totalBytes)) / 2 ** 20, note: 'baseline: the state a restore reads (the chains)' });
}
for (const [name, r] of [['none', none], ['full', full], ['incremental', incremental]] as const) {
  if (r === undefined) continue;
  emitFigure({ name: `state/peak RSS, ${label}, checkpoints ${name}`, value: r.peakRssMiB, unit: 'MiB', baseline: none.peakRssMiB, note: 'baseline: the same job without checkpoints; reported' });
}

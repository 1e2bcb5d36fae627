/**
 * The LevelDB state backend with large state (#19): a keyed count over 10M keys (KEYS), filled once, then 2 × KEYS
 * updates, incremental checkpoints every 10 s, p = 1 in-process. Each variant runs in its own process (its own
 * peak RSS):
 *
 * - peak RSS of the LevelDB backend, 64 MiB cache (bar ≤ 512 MiB), against the heap backend on the same job;
 * - update throughput with Zipf-distributed keys, LevelDB against heap (bar ≥ 0.5×); uniform keys reported;
 * - restore of the final checkpoint (all KEYS keys) into a new LevelDB backend: a run that restores it and reads
 *   nothing (its source is at its end), start to finish (bar < 10 s).
 *
 * The LevelDB variants run with a 256 MiB old space (LEVELDB_HEAP_MIB), the heap ones with 16 GiB.
 *
 * Run: `npx tsx bench/leveldb-state.ts` (KEYS=1000000 for a quicker run; ONLY=zipf or ONLY=uniform runs one pair;
 * BENCH_MAX_OPEN_FILES=128 runs the LevelDB backend with that `state.maxOpenFiles`; MEMORY_LIMIT_MIB=512 runs the
 * LevelDB variants inside a memory cgroup of that size, as a container would, where this process may create one;
 * BENCH_RESTORE_WORKERS=1 restores on a worker thread; BENCH_SAVEPOINT_AFTER=25 has the LevelDB variant take a savepoint
 * once its 25th checkpoint completed, and reports the savepoint's duration and the anonymous memory while it ran).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobParams, type JobDefinition } from '../runtime/api/index.ts';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import { silentLogger } from '../runtime/logging/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import { emitFigure, median } from './support/figure.ts';
import { createMemoryCgroup, type MemoryCgroup } from './support/memory-cgroup.ts';

const KEYS = Number(process.env['KEYS'] ?? 10_000_000);
const UPDATES = 2 * KEYS;
/** Worker threads for the restoring run (its subtask then restores on a worker, asking main for each chain). */
const RESTORE_WORKERS = Number(process.env['BENCH_RESTORE_WORKERS'] ?? 0);
const MODULE = new URL('./support/large-state-job.ts', import.meta.url);
/** The LevelDB variant takes a savepoint once this many checkpoints completed (0: none). */
const SAVEPOINT_AFTER = Number(process.env['BENCH_SAVEPOINT_AFTER'] ?? 0);

interface VariantResult {
  fillSeconds: number;
  updateSeconds: number;
  totalSeconds: number;
  peakRssMiB: number;
  /** Peak of the anonymous part of RSS (Linux): RSS less file pages (the node binary and its libraries, ~47 MiB). */
  peakAnonMiB: number;
  /** At that peak: the V8 heap's committed size and external memory (the rest is native: LevelDB, allocator). */
  heapAtPeakAnonMiB: number;
  externalAtPeakAnonMiB: number;
  /** The restore's own peaks (sampled apart from the job's). */
  restorePeakRssMiB?: number;
  restorePeakAnonMiB?: number;
  checkpointMs: number[];
  restoreSeconds?: number;
  /** With BENCH_SAVEPOINT_AFTER: the savepoint's duration, its size, and the peak anonymous RSS while it ran. */
  savepoint?: { seconds: number; totalMiB: number; peakAnonMiB: number };
  /** Under MEMORY_LIMIT_MIB: the peak memory the kernel charged to the variant's cgroup (anonymous and page cache). */
  cgroupPeakMiB?: number;
}

const MEMORY_LIMIT_MIB = process.env['MEMORY_LIMIT_MIB'] === undefined ? undefined : Number(process.env['MEMORY_LIMIT_MIB']);
if (MEMORY_LIMIT_MIB !== undefined && !(MEMORY_LIMIT_MIB >= 64)) throw new Error(`MEMORY_LIMIT_MIB=${process.env['MEMORY_LIMIT_MIB']}: give the limit in MiB, at least 64`);

if (process.argv[2] === '--variant') {
  const result = await runVariant(process.argv[3] === 'restore');
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

async function runVariant(withRestore: boolean): Promise<VariantResult> {
  const { default: job, phases } = (await import(MODULE.href)) as { default: JobDefinition; phases: { records: number; firstAt: number; filledAt: number } };
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-leveldb-'));
  const store = await CheckpointStore.open(dir);
  const jobMemory = sampleMemoryPeaks();
  const checkpointMs: number[] = [];
  const runner = new JobRunner({
    job,
    params: new JobParams([['keys', String(KEYS)], ['updates', String(UPDATES)]]),
    logger: silentLogger(),
    store,
    restore: { from: 'none' },
  });
  let savepoint: Promise<VariantResult['savepoint']> | undefined;
  runner.events.subscribe((e) => {
    if (e.type !== 'checkpoint-completed' || e.manifest.kind !== 'checkpoint') return;
    checkpointMs.push(e.manifest.durationMs);
    if (checkpointMs.length === SAVEPOINT_AFTER && process.env['BENCH_BACKEND'] === 'leveldb') savepoint = timedSavepoint(runner);
  });
  const start = performance.now();
  await runner.run();
  const savepointResult = await savepoint;
  const end = performance.now();
  const peaks = jobMemory.stop();
  const result: VariantResult = {
    fillSeconds: (phases.filledAt - start) / 1000,
    updateSeconds: (end - phases.filledAt) / 1000,
    totalSeconds: (end - start) / 1000,
    peakRssMiB: peaks.rss / 2 ** 20,
    peakAnonMiB: peaks.anon / 2 ** 20,
    heapAtPeakAnonMiB: peaks.heapAtAnon / 2 ** 20,
    externalAtPeakAnonMiB: peaks.externalAtAnon / 2 ** 20,
    checkpointMs,
    ...(savepointResult === undefined ? {} : { savepoint: savepointResult }),
  };
  if (withRestore) {
    // The final checkpoint holds every key; a new run restores it, and its source (at its end) finishes at once.
    // Its memory is sampled on its own: the job's peaks above do not include it.
    const before = phases.records;
    const restoreMemory = sampleMemoryPeaks();
    const restoring = new JobRunner({
      job,
      params: new JobParams([['keys', String(KEYS)], ['updates', String(UPDATES)]]),
      logger: silentLogger(),
      store,
      restore: { from: 'latest' },
      ...(RESTORE_WORKERS > 0 ? { workers: RESTORE_WORKERS, jobModule: MODULE } : {}),
    });
    const t0 = performance.now();
    await restoring.run();
    result.restoreSeconds = (performance.now() - t0) / 1000;
    const restorePeaks = restoreMemory.stop();
    result.restorePeakRssMiB = restorePeaks.rss / 2 ** 20;
    result.restorePeakAnonMiB = restorePeaks.anon / 2 ** 20;
    const read = RESTORE_WORKERS > 0 ? (restoring.metrics()[0]?.recordsOut ?? 0) : phases.records - before;
    if (read !== 0) throw new Error('the restored run read records: it did not restore the final checkpoint');
  }
  await store.close();
  await rm(dir, { recursive: true, force: true });
  return result;
}

/** A savepoint of the running job (as `sluice savepoint` takes one): its duration, size and the memory while it ran. */
async function timedSavepoint(runner: JobRunner): Promise<VariantResult['savepoint']> {
  const memory = sampleMemoryPeaks();
  const t0 = performance.now();
  const manifest = await runner.checkpoint('savepoint');
  return { seconds: (performance.now() - t0) / 1000, totalMiB: manifest.totalBytes / 2 ** 20, peakAnonMiB: memory.stop().anon / 2 ** 20 };
}

/**
 * Samples this process's RSS and anonymous RSS every 50 ms until `stop()`, which gives their peaks in bytes, and
 * where the anonymous memory was at its peak: the V8 heap (committed), and external memory (buffers, array buffers).
 */
function sampleMemoryPeaks(): { stop(): { rss: number; anon: number; heapAtAnon: number; externalAtAnon: number } } {
  const peaks = { rss: 0, anon: 0, heapAtAnon: 0, externalAtAnon: 0 };
  const sample = (): void => {
    const usage = process.memoryUsage();
    peaks.rss = Math.max(peaks.rss, usage.rss);
    const anon = anonymousRss();
    if (anon > peaks.anon) Object.assign(peaks, { anon, heapAtAnon: usage.heapTotal, externalAtAnon: usage.external });
  };
  const timer = setInterval(sample, 50);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peaks;
    },
  };
}

/** RssAnon from /proc/self/status, in bytes (0 where there is none). */
function anonymousRss(): number {
  try {
    return Number(/RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function variant(backend: 'heap' | 'leveldb', distribution: 'zipf' | 'uniform', restore = false): Promise<VariantResult> {
  return new Promise((resolve, reject) => {
    // The heap backend needs a large heap for 10M keys; the LevelDB backend runs with a capped one, as a user bounding
    // the process's memory would run it (without a cap V8 keeps ~3× the live heap committed: measured at 3M keys,
    // anonymous RSS 700 MiB uncapped, 353 MiB with a 160 MiB old space, at 0.7× the update rate).
    const heapMiB = backend === 'heap' ? 16384 : Number(process.env['LEVELDB_HEAP_MIB'] ?? 256);
    const args = [`--max-old-space-size=${heapMiB}`, '--import', 'tsx', new URL(import.meta.url).pathname, '--variant', restore ? 'restore' : ''];
    // The heap backend cannot hold 10M keys in a small limit: only the LevelDB variants run inside it.
    let cgroup: MemoryCgroup | undefined;
    if (MEMORY_LIMIT_MIB !== undefined && backend === 'leveldb') {
      const created = createMemoryCgroup('sluice-bench-leveldb', MEMORY_LIMIT_MIB * 2 ** 20);
      if (typeof created === 'string') return reject(new Error(`MEMORY_LIMIT_MIB=${MEMORY_LIMIT_MIB}: ${created}`));
      cgroup = created;
    }
    const [command, argv] = cgroup?.wrap(process.execPath, args) ?? [process.execPath, args];
    const child = spawn(command, argv, { env: { ...process.env, BENCH_BACKEND: backend, BENCH_DIST: distribution }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      const peak = cgroup?.peakBytes();
      const oomKills = cgroup?.oomKills() ?? 0;
      cgroup?.remove();
      if (code !== 0 || line === undefined) {
        const killed = oomKills > 0 ? ` (killed for lack of memory inside the ${MEMORY_LIMIT_MIB} MiB limit)` : '';
        reject(new Error(`variant ${backend}/${distribution} exited ${code}${killed}: ${out.slice(-500)}`));
      } else resolve({ ...(JSON.parse(line.slice(7)) as VariantResult), ...(peak === undefined ? {} : { cgroupPeakMiB: peak / 2 ** 20 }) });
    });
  });
}

const label = `${KEYS / 1e6}M keys`;
const setting = `${label} filled once, ${UPDATES / 1e6}M updates, incremental checkpoints every 10 s, p = 1 in-process, 64 MiB cache${process.env['BENCH_MAX_OPEN_FILES'] === undefined ? '' : `, state.maxOpenFiles ${process.env['BENCH_MAX_OPEN_FILES']}`}, LevelDB runs with --max-old-space-size=${process.env['LEVELDB_HEAP_MIB'] ?? 256}${MEMORY_LIMIT_MIB === undefined ? '' : ` inside a ${MEMORY_LIMIT_MIB} MiB memory cgroup`}`;
const rate = (r: VariantResult): number => UPDATES / r.updateSeconds;
const report = (name: string, r: VariantResult): void => {
  process.stderr.write(`${name}: fill ${r.fillSeconds.toFixed(1)} s, updates ${r.updateSeconds.toFixed(1)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB (anonymous ${r.peakAnonMiB.toFixed(0)}: V8 heap ${r.heapAtPeakAnonMiB.toFixed(0)}, external ${r.externalAtPeakAnonMiB.toFixed(0)}), checkpoints ${r.checkpointMs.length} (median ${median(r.checkpointMs)} ms, max ${Math.max(...r.checkpointMs)} ms)${r.restoreSeconds === undefined ? '' : `, restore ${r.restoreSeconds.toFixed(1)} s (peak RSS ${r.restorePeakRssMiB!.toFixed(0)} MiB, anonymous ${r.restorePeakAnonMiB!.toFixed(0)})`}${r.cgroupPeakMiB === undefined ? '' : `, cgroup peak ${r.cgroupPeakMiB.toFixed(0)} MiB`}\n`);
};

const only = process.env['ONLY'];
if (only !== 'uniform') {
  const heapZipf = await variant('heap', 'zipf');
  report('heap zipf', heapZipf);
  const leveldbZipf = await variant('leveldb', 'zipf', true);
  report('leveldb zipf', leveldbZipf);
  emitFigure({ name: `state/leveldb update throughput, Zipf, ${label}`, value: rate(leveldbZipf), unit: 'records/s', baseline: rate(heapZipf), note: `baseline: the heap backend on the same job; ${setting}; bar ≥ 0.5×` });
  emitFigure({ name: `state/leveldb peak RSS, ${label}`, value: leveldbZipf.peakRssMiB, unit: 'MiB', baseline: 512, note: `baseline: the 512 MiB bar; heap backend on the same job: ${heapZipf.peakRssMiB.toFixed(0)} MiB` });
  if (leveldbZipf.savepoint !== undefined) {
    const sp = leveldbZipf.savepoint;
    emitFigure({ name: `state/leveldb peak anonymous RSS while a savepoint is taken, ${label}`, value: sp.peakAnonMiB, unit: 'MiB', baseline: 512, note: `a savepoint after checkpoint ${SAVEPOINT_AFTER}, while the job runs on: ${sp.totalMiB.toFixed(0)} MiB of full blobs in ${sp.seconds.toFixed(1)} s; the job's own peak anonymous RSS ${leveldbZipf.peakAnonMiB.toFixed(0)} MiB; baseline: the 512 MiB bar` });
  }
  if (leveldbZipf.cgroupPeakMiB !== undefined) {
    emitFigure({ name: `state/leveldb peak memory charged to a ${MEMORY_LIMIT_MIB} MiB cgroup, ${label}`, value: leveldbZipf.cgroupPeakMiB, unit: 'MiB', baseline: 512, note: 'anonymous memory and page cache, as a container limit counts them; the run completed inside the limit; baseline: the 512 MiB bar' });
  }
  emitFigure({ name: `state/leveldb peak anonymous RSS, ${label}`, value: leveldbZipf.peakAnonMiB, unit: 'MiB', baseline: 512, note: `RSS less file-backed pages (the node binary and its libraries; LevelDB's tables are read, not mapped); at that peak the V8 heap held ${leveldbZipf.heapAtPeakAnonMiB.toFixed(0)} MiB, external memory ${leveldbZipf.externalAtPeakAnonMiB.toFixed(0)} MiB; baseline: the 512 MiB bar` });
  emitFigure({ name: `state/leveldb restore peak RSS, ${label}`, value: leveldbZipf.restorePeakRssMiB!, unit: 'MiB', baseline: 512, note: `the restore below, on its own (anonymous ${leveldbZipf.restorePeakAnonMiB!.toFixed(0)} MiB)${RESTORE_WORKERS > 0 ? `, on ${RESTORE_WORKERS} worker thread(s)` : ''}; baseline: the 512 MiB bar` });
  emitFigure({ name: `state/leveldb fill throughput (new keys), ${label}`, value: KEYS / leveldbZipf.fillSeconds, unit: 'records/s', baseline: KEYS / heapZipf.fillSeconds, note: 'baseline: the heap backend; every record a new key (a LevelDB miss); reported' });
  emitFigure({ name: `state/leveldb restore, ${label}`, value: leveldbZipf.restoreSeconds!, unit: 's', baseline: 10, note: 'the final checkpoint into a new working database, run start to finish (source at its end); baseline: the 10 s bar' });
}
if (only !== 'zipf') {
  const heapUniform = await variant('heap', 'uniform');
  report('heap uniform', heapUniform);
  const leveldbUniform = await variant('leveldb', 'uniform');
  report('leveldb uniform', leveldbUniform);
  emitFigure({ name: `state/leveldb update throughput, uniform, ${label}`, value: rate(leveldbUniform), unit: 'records/s', baseline: rate(heapUniform), note: `baseline: the heap backend on the same job; ${setting}; reported` });
  emitFigure({ name: `state/leveldb peak RSS, uniform, ${label}`, value: leveldbUniform.peakRssMiB, unit: 'MiB', baseline: 512, note: `baseline: the 512 MiB bar; heap: ${heapUniform.peakRssMiB.toFixed(0)} MiB` });
}

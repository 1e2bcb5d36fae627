/**
 * Memory of a checkpoint export (`sluice checkpoint export` / `backup`, `CheckpointStore.exportTo`), of its
 * import, and of a savepoint written on top of the checkpoint (a savepoint stands alone: the store merges every
 * chain it builds on), on a large incremental checkpoint: KEYS keys (default 10M) of a heap backend, a full
 * checkpoint and two of 1% changes, so export and savepoint merge every chain. Each step runs in a process of its
 * own. Figures: how much the step's anonymous memory grew (its peak, sampled every 20 ms, less the process's before
 * it), against the export file's size. The steps run with a 256 MiB old space (STEP_HEAP_MIB), as a LevelDB-backend
 * job might.
 *
 * Run: `npx tsx bench/checkpoint-export.ts` (KEYS=2000000 for a quicker run).
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore, type CheckpointManifest } from '../runtime/checkpoint/index.ts';
import { gatherCheckpoint } from '../runtime/checkpoint/checkpoint-blobs.ts';
import type { SubtaskAck } from '../runtime/exec/index.ts';
import { HeapKeyedStateBackend } from '../runtime/state/index.ts';
import { emitFigure } from './support/figure.ts';

const KEYS = Number(process.env['KEYS'] ?? 10_000_000);
const M = 128;
const JOB = 'large';
/** The V8 old space of the export and import steps, in MiB: without a cap V8 lets garbage pile up to a multiple of what is live. */
const STEP_HEAP_MIB = Number(process.env['STEP_HEAP_MIB'] ?? 256);

type MeasuredStep = 'export' | 'import' | 'savepoint';

interface StepResult {
  ms: number;
  growthMiB: number;
}

if (process.argv[2] === '--step') {
  const [, , , step, dir] = process.argv;
  if (step === 'build') await build(dir!);
  else process.stdout.write(`RESULT ${JSON.stringify(await measured(dir!, step as MeasuredStep))}\n`);
  process.exit(0);
}

async function build(dir: string): Promise<void> {
  const store = await CheckpointStore.open(join(dir, 'store'));
  const backend = new HeapKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 }, incremental: true });
  await backend.restore([]);
  const count = backend.getValueState<{ n: number; seen: number }>('count');
  let parent: CheckpointManifest | undefined;
  for (let id = 1; id <= 3; id++) {
    const from = id === 1 ? 0 : id * 1000;
    const keys = id === 1 ? KEYS : KEYS / 100;
    for (let k = from; k < from + keys; k++) {
      backend.setCurrentKey(`user-${k}`);
      count.update({ n: k + id, seen: id });
    }
    const snapshot = await backend.snapshot(id);
    const ack: SubtaskAck = { checkpointId: id, stage: 0, subtask: 0, operators: [{ uid: 'count', snapshot: { keyed: snapshot.keyGroups, incremental: snapshot.incremental! } }] };
    const header = { job: JOB, id, kind: 'checkpoint' as const, timestamp: id, durationMs: 1, parallelism: 1, maxParallelism: M, operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }], sourcePositions: {} };
    parent = await store.write(header, gatherCheckpoint([ack], parent).blobs, { retain: 3 });
  }
  writeFileSync(join(dir, 'latest-manifest.json'), JSON.stringify(parent));
  await store.close();
}

async function measured(dir: string, step: MeasuredStep): Promise<StepResult> {
  const store = await CheckpointStore.open(join(dir, 'store'));
  // A savepoint taken right after checkpoint 3 with nothing changed since: it names every blob of 3's chains.
  const latest = JSON.parse(readFileSync(join(dir, 'latest-manifest.json'), 'utf8')) as CheckpointManifest;
  const { blobs: refs, totalBytes: _total, writtenBytes: _written, formatVersion: _format, ...header } = latest;
  const before = anonymousMiB();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, anonymousMiB())), 20);
  const t0 = performance.now();
  if (step === 'export') await store.exportTo(JOB, 3, join(dir, 'export.sluice'));
  else if (step === 'import') await store.importFrom(join(dir, 'export.sluice'), { job: 'imported' });
  else await store.write({ ...header, id: latest.id + 1, kind: 'savepoint' }, refs.map((ref) => ({ shared: ref })));
  const ms = performance.now() - t0;
  clearInterval(timer);
  peak = Math.max(peak, anonymousMiB());
  await store.close();
  return { ms, growthMiB: peak - before };
}

/** RssAnon from /proc/self/status, in MiB. */
function anonymousMiB(): number {
  return Number(/RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
}

function runStep(step: 'build' | MeasuredStep, dir: string): Promise<StepResult | undefined> {
  // The build holds every key in a heap backend; export and import run in the heap a LevelDB-backend job would have.
  const args = [`--max-old-space-size=${step === 'build' ? 16384 : STEP_HEAP_MIB}`, '--import', 'tsx', new URL(import.meta.url).pathname, '--step', step, dir];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`step ${step} exited ${code}: ${out.slice(-500)}`));
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      resolve(line === undefined ? undefined : (JSON.parse(line.slice(7)) as StepResult));
    });
  });
}

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-export-'));
try {
  await runStep('build', dir);
  const exported = (await runStep('export', dir))!;
  const fileMiB = statSync(join(dir, 'export.sluice')).size / 2 ** 20;
  const imported = (await runStep('import', dir))!;
  const savepoint = (await runStep('savepoint', dir))!;
  const label = `${KEYS / 1e6}M keys, incremental (3 checkpoints), ${fileMiB.toFixed(0)} MiB export file`;
  emitFigure({ name: `checkpoint/export memory growth, ${label}`, value: exported.growthMiB, unit: 'MiB', baseline: fileMiB, note: `peak anonymous memory less the process's before the export, --max-old-space-size=${STEP_HEAP_MIB}; export took ${(exported.ms / 1000).toFixed(1)} s; baseline: the file's size` });
  emitFigure({ name: `checkpoint/import memory growth, ${label}`, value: imported.growthMiB, unit: 'MiB', baseline: fileMiB, note: `as above, for importing the file as a savepoint (read blob by blob as it is stored, in batches of 4 MiB), --max-old-space-size=${STEP_HEAP_MIB}; took ${(imported.ms / 1000).toFixed(1)} s; baseline: the file's size` });
  emitFigure({ name: `checkpoint/savepoint write memory growth, ${label}`, value: savepoint.growthMiB, unit: 'MiB', baseline: fileMiB, note: `as above, for CheckpointStore.write of a savepoint on top of the checkpoint (every chain read from the store and merged into a full blob), --max-old-space-size=${STEP_HEAP_MIB}; took ${(savepoint.ms / 1000).toFixed(1)} s; baseline: the export file's size (the savepoint's own blobs)` });
} finally {
  await rm(dir, { recursive: true, force: true });
}

/**
 * The default worker count inside a container's CPU limit: `sluice run` of a CPU-bound keyed count at parallelism 2
 * in a cgroup limited to CPU_LIMIT CPUs (default 1), with no `--workers` (one per usable core: the limit counts),
 * against `--workers <the host's cores, at most 2>` — what the default was while it counted the host's cores alone
 * (Node 20's `os.availableParallelism()` does not read cgroup limits). Interleaved rounds (ROUNDS, default 3); the
 * figure is the job's own time as `sluice run` reports it, the mean of the rounds.
 *
 * Linux only, as root or in a delegated cgroup; elsewhere it says why and emits nothing. On a host of one core the
 * two counts are the same, so it says so and emits nothing.
 *
 * Run: `npx tsx bench/workers-cpu-limit.ts` (RECORDS=4000000 for a quicker run).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCpuCgroup, type CpuCgroup } from './support/cpu-cgroup.ts';
import { emitFigure } from './support/figure.ts';

const CPU_LIMIT = Number(process.env['CPU_LIMIT'] ?? 1);
const ROUNDS = Number(process.env['ROUNDS'] ?? 3);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const JOB = fileURLToPath(new URL('./support/cgroup-count-job.ts', import.meta.url));
const hostDefault = Math.min(availableParallelism(), 2);

if (hostDefault <= Math.floor(CPU_LIMIT)) {
  process.stderr.write(`workers-cpu-limit: ${availableParallelism()} core(s) and a limit of ${CPU_LIMIT}: both counts are ${hostDefault}, nothing to compare\n`);
  process.exit(0);
}
const cgroup = createCpuCgroup('sluice-bench-cpu', CPU_LIMIT);
if (typeof cgroup === 'string') {
  process.stderr.write(`workers-cpu-limit: skipped: ${cgroup}\n`);
  process.exit(0);
}

/** Runs the job once in the cgroup; its own time in seconds and the worker count it logged. */
async function runJob(group: CpuCgroup, workers: number | undefined): Promise<{ seconds: number; placed: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sluice-bench-cpu-'));
  try {
    const args = [join(ROOT, 'bin/sluice.js'), 'run', JOB, '--data-dir', dataDir, ...(workers === undefined ? [] : ['--workers', String(workers)])];
    const [command, wrapped] = group.wrap(process.execPath, args);
    const child = spawn(command, wrapped, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const seconds = /finished: \d+ records read in ([\d.]+) s/.exec(out)?.[1];
    if (code !== 0 || seconds === undefined) throw new Error(`sluice run exited ${code}:\n${out.slice(-2000)}`);
    return { seconds: Number(seconds), placed: /running on \d+ worker threads|running in-process/.exec(out)?.[0] ?? '?' };
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const byDefault: number[] = [];
const hostCount: number[] = [];
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const before = await runJob(cgroup, hostDefault);
    const now = await runJob(cgroup, undefined);
    hostCount.push(before.seconds);
    byDefault.push(now.seconds);
    process.stderr.write(`round ${round}: --workers ${hostDefault} ${before.seconds} s (${before.placed}); default ${now.seconds} s (${now.placed})\n`);
  }
} finally {
  cgroup.remove();
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
emitFigure({
  name: `workers/default count in a ${CPU_LIMIT}-CPU cgroup: job time, keyed count p = 2`,
  value: mean(byDefault),
  unit: 's',
  baseline: mean(hostCount),
  note: `baseline: --workers ${hostDefault}, the default while it counted the host's cores; ${ROUNDS} interleaved rounds of \`sluice run\` (${byDefault.join('/')} s against ${hostCount.join('/')} s); lower is better`,
});

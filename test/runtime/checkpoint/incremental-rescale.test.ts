import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { expectedUpdates, RECORDS, type Update } from './fixtures/incremental-sessions.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const HEAP_JOB = join(import.meta.dirname, 'fixtures', 'incremental-sessions.ts');
const LEVELDB_JOB = join(import.meta.dirname, 'fixtures', 'incremental-sessions-leveldb.ts');

function runJob(job: string, args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'run', job, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

/** The highest record index committed so far. */
async function committedUpTo(output: string): Promise<number> {
  let max = -1;
  for (const u of await readPartFiles<Update>(output).catch(() => [] as Update[])) max = Math.max(max, u.i);
  return max;
}

// Heap only, and LevelDB with a switch to the heap backend and back on the way (both write the same checkpoints).
const variants = [
  { workers: 0, backends: 'heap', jobs: [HEAP_JOB, HEAP_JOB, HEAP_JOB, HEAP_JOB] },
  { workers: 2, backends: 'heap', jobs: [HEAP_JOB, HEAP_JOB, HEAP_JOB, HEAP_JOB] },
  { workers: 2, backends: 'leveldb → heap → leveldb', jobs: [LEVELDB_JOB, HEAP_JOB, LEVELDB_JOB, LEVELDB_JOB] },
];

for (const { workers, backends, jobs } of variants) {
  test(`incremental chains survive kill -9 and restores at p = 2 → 3 → 8 → 1, exactly once (workers ${workers}, ${backends} backend)`, async (t) => {
    const dir = await tempDir(t);
    const output = join(dir, 'out');
    const common = ['--data-dir', join(dir, 'data'), '--set', `output=${output}`, '--workers', String(workers), '--log-level', 'info'];
    // Each run is killed once its output passed the next mark: the later ones while most key groups no longer change,
    // so their chains are long and shared across many checkpoints.
    // At 6,000 records/s a killed run has at least 3 s of input left past its mark, however loaded the machine.
    const steps: Array<{ parallelism: number; killPast?: number }> = [
      { parallelism: 2, killPast: 0.25 * RECORDS },
      { parallelism: 3, killPast: 0.5 * RECORDS },
      { parallelism: 8, killPast: 0.7 * RECORDS },
      { parallelism: 1 },
    ];
    for (const [n, step] of steps.entries()) {
      const run = runJob(jobs[n]!, [...common, '--parallelism', String(step.parallelism), '--set', `rate=${step.killPast === undefined ? 1_000_000 : 6_000}`]);
      t.after(() => run.child.kill('SIGKILL'));
      if (step.killPast !== undefined) {
        const mark = step.killPast;
        await waitFor(async () => (await committedUpTo(output)) > mark, { timeoutMs: 60_000, message: `run ${n + 1} never committed past record ${mark}: ${run.output()}` });
        run.child.kill('SIGKILL');
        assert.equal(await run.exited, null, `run ${n + 1} was killed mid-job`);
      } else {
        assert.equal(await run.exited, 0, run.output());
      }
      if (n > 0) assert.match(run.output(), new RegExp(`"parallelism":${step.parallelism}[^\\n]*job starting from checkpoint \\d+`), `run ${n + 1} restored at p = ${step.parallelism}`);
      if (n === 1) {
        // `sluice checkpoints` lists what the killed run left: incremental checkpoints, each writing less than it restores.
        const listing = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'checkpoints', 'incremental-sessions', '--data-dir', join(dir, 'data'), '--json'], { cwd: ROOT });
        let json = '';
        listing.stdout.on('data', (chunk: Buffer) => (json += chunk.toString()));
        assert.equal(await new Promise((resolve) => listing.on('exit', resolve)), 0);
        const list = JSON.parse(json) as Array<{ status: string; incremental: boolean; writtenBytes: number; totalBytes: number }>;
        assert.ok(list.length > 0 && list.every((c) => c.status === 'valid'), json);
        assert.ok(list.some((c) => c.incremental && c.writtenBytes < c.totalBytes), json);
      }
    }

    const got = await readPartFiles<Update>(output);
    const expected = expectedUpdates();
    assert.equal(got.length, expected.length, 'one committed update per record across three crashes and three changes of parallelism');
    const key = (u: Update): string => `${u.key}#${u.i}`;
    const want = new Map(expected.map((u) => [key(u), JSON.stringify(u)]));
    for (const u of got) assert.equal(JSON.stringify(u), want.get(key(u)), `update of record ${u.i} (key ${u.key})`);
  });
}

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { waitFor } from '../../support/wait-for.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { keyOf, RECORDS } from './fixtures/crash-count.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const JOB = join(import.meta.dirname, 'fixtures', 'crash-count.ts');

function runJob(dataDir: string, output: string, rate: number, workers: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'runtime/cli/main.ts', 'run', JOB, '--data-dir', dataDir, '--set', `output=${output}`, '--set', `rate=${rate}`, '--workers', String(workers), '--log-level', 'info'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  // Where the attempt runs, from the runner's log line (logged once per attempt, at start).
  let head = '';
  let placement: string | undefined;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8_000);
    if (placement === undefined) placement = /"msg":"(running in-process|running on \d+ worker threads)"/.exec((head += chunk.toString()))?.[1];
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr, placement: () => placement };
}

for (const workers of [0, 2]) test(`kill -9 of \`sluice run\` mid-job, then a rerun on the same data dir, gives exactly the failure-free output (workers ${workers})`, async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, 'data');
  const output = join(dir, 'out');

  const first = runJob(dataDir, output, 40_000, workers);
  t.after(() => first.child.kill('SIGKILL'));
  // Committed part files appear only when a checkpoint completes: wait for a few, then crash hard.
  await waitFor(
    async () => (await readdir(output).catch(() => [])).filter((n) => n.endsWith('.ndjson')).length >= 4,
    { timeoutMs: 30_000, message: 'the first run never committed output' },
  );
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, null, 'the first run was killed, not finished');
  assert.equal(first.placement(), workers === 0 ? 'running in-process' : `running on ${workers} worker threads`);
  const committedBeforeCrash = (await readPartFiles(output)).length;
  assert.ok(committedBeforeCrash > 0 && committedBeforeCrash < RECORDS, `crashed mid-job (${committedBeforeCrash} committed)`);

  // `sluice checkpoints` lists what the crashed run left: valid checkpoints, newest first.
  const listing = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'checkpoints', 'crash-count', '--data-dir', dataDir], { cwd: ROOT });
  let table = '';
  listing.stdout.on('data', (chunk: Buffer) => (table += chunk.toString()));
  assert.equal(await new Promise((resolve) => listing.on('exit', resolve)), 0);
  const rows = table.trim().split('\n');
  assert.match(rows[0] ?? '', /^ID\s+KIND\s+TYPE\s+TIME\s+SIZE\s+WRITTEN\s+DURATION\s+STATUS$/);
  assert.ok(rows.length >= 2 && rows.slice(1).every((r) => /^\d+\s+checkpoint\s+full\s+\S+\s+.+\s+valid$/.test(r)), table);

  const second = runJob(dataDir, output, 1_000_000, workers);
  const code = await second.exited;
  assert.equal(code, 0, `the rerun finished: ${second.stderr()}`);
  assert.equal(second.placement(), workers === 0 ? 'running in-process' : `running on ${workers} worker threads`);

  const records = await readPartFiles<{ key: string; n: number }>(output);
  assert.equal(records.length, RECORDS, 'one committed update per input record: none lost, none duplicated');
  const expected = new Map<string, number>();
  for (let i = 0; i < RECORDS; i++) expected.set(keyOf(i), (expected.get(keyOf(i)) ?? 0) + 1);
  const last = new Map<string, number>();
  for (const r of records) last.set(r.key, r.n);
  assert.deepEqual(last, expected);
  const leftovers = (await readdir(output)).filter((n) => !n.endsWith('.ndjson'));
  assert.deepEqual(leftovers, [], 'no in-progress or pending files left behind');
});

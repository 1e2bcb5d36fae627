import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { keyOf, RECORDS } from '../runner/fixtures/crash-count.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const JOB = join(ROOT, 'test', 'runtime', 'runner', 'fixtures', 'crash-count.ts');

function runJob(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'run', JOB, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

for (const workers of [0, 2]) test(`\`sluice run --parallelism N\` after a crash at p = 2 restores the checkpoint at N = 5, exactly once (workers ${workers})`, async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, 'data');
  const output = join(dir, 'out');
  const common = ['--data-dir', dataDir, '--set', `output=${output}`, '--workers', String(workers), '--log-level', 'info'];
  const placement = workers === 0 ? 'running in-process' : `running on ${workers} worker threads`;

  const first = runJob([...common, '-p', '2', '--set', 'rate=40000']);
  t.after(() => first.child.kill('SIGKILL'));
  await waitFor(async () => (await readdir(output).catch(() => [])).filter((n) => n.endsWith('.ndjson')).length >= 4, {
    timeoutMs: 30_000,
    message: 'the first run never committed output',
  });
  first.child.kill('SIGKILL');
  await first.exited;
  assert.match(first.output(), new RegExp(`"msg":"${placement}"`), 'ran where asked');

  const second = runJob([...common, '--parallelism', '5', '--set', 'rate=1000000']);
  assert.equal(await second.exited, 0, second.output());
  assert.match(second.output(), /"parallelism":5[^\n]*job starting from checkpoint \d+/, 'restored at the new parallelism');
  assert.match(second.output(), new RegExp(`"msg":"${placement}"`), 'ran where asked');

  const records = await readPartFiles<{ key: string; n: number }>(output);
  assert.equal(records.length, RECORDS, 'one committed update per input record across the change of parallelism');
  const expected = new Map<string, number>();
  for (let i = 0; i < RECORDS; i++) expected.set(keyOf(i), (expected.get(keyOf(i)) ?? 0) + 1);
  const last = new Map<string, number>();
  for (const r of records) last.set(r.key, r.n);
  assert.deepEqual(last, expected);
});

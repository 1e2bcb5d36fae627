import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { CLI_KEYS, CLI_RECORDS, compare, expectedCounts, readCounts } from './fixtures/count-to-es.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const JOB = join(import.meta.dirname, 'fixtures', 'count-to-es.ts');

function runJob(dataDir: string, node: string, index: string, rate: number, workers: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'runtime/cli/main.ts', 'run', JOB, '--data-dir', dataDir, '--set', `node=${node}`, '--set', `index=${index}`, '--set', 'shape=updates', '--set', `rate=${rate}`, '--workers', String(workers), '--log-level', 'info'],
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

for (const workers of [0, 2]) test(`kill -9 of \`sluice run\` writing to Elasticsearch, then a rerun: documents equal the failure-free run, no extras (workers ${workers})`, async (t) => {
  const es = await elasticsearchNode(t);
  const index = es.uniqueIndex(`kill9-w${workers}`);
  const dataDir = join(await tempDir(t), 'data');

  const first = runJob(dataDir, es.node, index, 15_000, workers);
  t.after(() => first.child.kill('SIGKILL'));
  const client = es.client();
  await waitFor(
    async () => {
      await client.indices.refresh({ index });
      return (await client.count({ index })).count >= CLI_RECORDS / 5;
    },
    { timeoutMs: 60_000, intervalMs: 100, message: 'the first run to write a fifth of the updates', describe: () => first.stderr() },
  );
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, null, 'the first run was killed, not finished');
  assert.equal(first.placement(), workers === 0 ? 'running in-process' : `running on ${workers} worker threads`);
  await client.indices.refresh({ index });
  const beforeCrash = (await client.count({ index })).count;
  assert.ok(beforeCrash < CLI_RECORDS, `crashed mid-job (${beforeCrash} documents)`);

  const second = runJob(dataDir, es.node, index, 1_000_000, workers);
  assert.equal(await second.exited, 0, `the rerun finished: ${second.stderr()}`);
  assert.equal(second.placement(), workers === 0 ? 'running in-process' : `running on ${workers} worker threads`);
  const documents = await readCounts(client, index);
  assert.deepEqual(compare('updates', documents, expectedCounts(CLI_RECORDS, CLI_KEYS)), []);
  assert.equal(documents.length, CLI_RECORDS, 'no extra documents');
});

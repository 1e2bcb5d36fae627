import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import type { ReadRecord } from './fixtures/source-to-files.ts';
import { produceNumbered, tally } from './source-test-support.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const JOB = join(import.meta.dirname, 'fixtures', 'source-to-files.ts');
const RECORDS = 20_000;
const PARTITIONS = 4;
/**
 * The reader's consumer session timeout (the source's default). A restart that had to wait for the killed process's
 * group members to expire would take at least this long; the bound below is generous for a loaded machine and still
 * well under it.
 */
const SESSION_TIMEOUT_MS = 30_000;
const RESTART_BOUND_MS = 25_000;

function runJob(args: { dataDir: string; brokers: string[]; topic: string; group: string; output: string; workers: number }) {
  const child = spawn(
    process.execPath,
    [
      '--import', 'tsx', 'runtime/cli/main.ts', 'run', JOB,
      '--data-dir', args.dataDir,
      '--workers', String(args.workers),
      '--set', `brokers=${args.brokers.join(',')}`,
      '--set', `topic=${args.topic}`,
      '--set', `group=${args.group}`,
      '--set', `output=${args.output}`,
      '--log-level', 'warn',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

for (const workers of [0, 2]) test(`kill -9 of \`sluice run\` reading Kafka, then a rerun: every record exactly once, without waiting for the dead consumers (workers ${workers})`, async (t) => {
  const cluster = await kafkaCluster(t);
  const topic = await cluster.createTopic({ partitions: PARTITIONS, prefix: 'source-kill9' });
  const group = cluster.uniqueName('source-kill9');
  const dir = await tempDir(t);
  const args = { dataDir: join(dir, 'data'), brokers: cluster.brokers, topic, group, output: join(dir, 'out'), workers };
  const producer = await cluster.producer();

  // Records keep arriving while the first run reads, so the kill lands mid-stream; the last 2,000 only after it.
  let produced = 0;
  let killed = false;
  const producing = (async () => {
    while (!killed && produced < RECORDS - 2_000) {
      await produceNumbered(producer, topic, PARTITIONS, produced, produced + 500);
      produced += 500;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();

  const first = runJob(args);
  t.after(() => first.child.kill('SIGKILL'));
  await waitFor(async () => (await readPartFiles(args.output).catch(() => [])).length >= 1_000, {
    timeoutMs: 30_000,
    message: 'the first run to commit 1,000 records',
    describe: () => first.stderr(),
  });
  first.child.kill('SIGKILL');
  killed = true;
  assert.equal(await first.exited, null, 'the first run was killed, not finished');
  const beforeCrash = (await readPartFiles<ReadRecord>(args.output)).length;
  await producing;
  await produceNumbered(producer, topic, PARTITIONS, produced, RECORDS);
  assert.ok(beforeCrash > 0 && beforeCrash < RECORDS, `crashed mid-stream (${beforeCrash} of ${RECORDS} committed)`);

  const started = Date.now();
  const second = runJob(args);
  t.after(() => second.child.kill('SIGKILL'));
  await waitFor(async () => (await readPartFiles(args.output)).length >= RECORDS, {
    timeoutMs: 60_000,
    message: `the rerun to commit all ${RECORDS} records`,
    describe: async () => ({ committed: (await readPartFiles(args.output)).length, stderr: second.stderr() }),
  });
  const elapsed = Date.now() - started;
  assert.ok(
    elapsed < RESTART_BOUND_MS,
    `the rerun (process start included) caught up in ${elapsed} ms: it must not wait for the killed run's consumers to time out (${SESSION_TIMEOUT_MS} ms)`,
  );
  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0, `the rerun stopped cleanly: ${second.stderr()}`);

  const records = await readPartFiles<ReadRecord>(args.output);
  const { distinct, duplicates } = tally(records.map((r) => r.i));
  assert.deepEqual(duplicates.slice(0, 10), [], 'no record committed twice');
  assert.equal(distinct, RECORDS, 'every record committed');
  assert.equal(records.length, RECORDS);
  // Per partition, offsets are committed in order and without gaps (the topic has no transactions or deletions).
  for (let p = 0; p < PARTITIONS; p++) {
    const offsets = records.filter((r) => r.partition === p).map((r) => r.offset).sort((a, b) => a - b);
    assert.deepEqual(offsets, offsets.map((_, n) => n), `partition ${p}: offsets 0..${offsets.length - 1}`);
  }
});

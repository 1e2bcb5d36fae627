/**
 * The checkpoint tools against a cluster member that does not run the job (in-process members on one broker): they
 * work on the checkpoints replicated in Kafka, and the job's owner applies restore, clear and catch-up as it restarts.
 * Every step checks the committed output record for record: which inputs were counted, from which state, in order.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { unpack } from '../../../runtime/serde/msgpackr.ts';
import { JobsLog } from '../../../runtime/cluster/jobs/jobs-log.ts';
import { clusterTopics } from '../../../runtime/cluster/kafka/cluster-topics.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { ok, sluice } from '../../service/service-process.ts';
import { waitFor } from '../../support/wait-for.ts';
import { assertCountedOutput, clusterView, owners, produceCounted, submitJob, type CountedRun } from './support/cluster-checks.ts';
import { KEYS, settled, setup, type Setup } from './support/in-process-cluster.ts';

/** Two members, the counting job `job` on one of them; answers the CLI environment of the other. */
async function twoMembersAndAJob(s: Setup, job: string): Promise<{ output: string; file: string; params: Record<string, string>; env: Record<string, string> }> {
  await s.join('a');
  await s.join('b');
  const { file, params, output } = await s.jobFile(job);
  await submitJob(s.members[0]!.url, { file, params });
  const owner = (await settled(s, 1)).get(job)!;
  const other = s.members.find((m) => m.name !== owner)!;
  return { output, file, params, env: { SLUICE_URL: other.url } };
}

/** The job's newest replicated checkpoint id, as cluster status shows it, once it is newer than `after`. */
function checkpointAfter(s: Setup, job: string, after: number): Promise<number> {
  return waitFor(async () => {
    const j = (await clusterView(s.members[0]!.url)).jobs.find((x) => x.name === job);
    return j?.state === 'running' && j.lastCheckpoint !== null && j.lastCheckpoint.id > after ? j.lastCheckpoint.id : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200, message: `a checkpoint of ${job} after ${after}` });
}

test('checkpoints, backup, restore and submit --from through a member that does not run the job', async (t) => {
  const s = await setup(t, 3_000);
  const { output, file, params, env } = await twoMembersAndAJob(s, 'tools');
  const runs: CountedRun[] = [{ from: 0, to: 3_000, stateOf: 0 }];
  await assertCountedOutput(s.kafka, output, runs, KEYS);

  const listing = await ok(['checkpoints', 'tools'], env);
  assert.match(listing, /REPLICATED BY/);
  assert.match(listing, /checkpoint .* valid .*\(epoch \d+\)/);
  // Taken once all 3,000 are committed: the backup's state and positions are those after input 2,999.
  const backup = join(s.dir, 'tools-backup.sluice-export');
  const backedUp = await ok(['checkpoint', 'backup', 'tools', '--output', backup], env);
  assert.match(backedUp, /backed up to/);
  const exported = unpack(await readFile(backup)) as { format: string; manifest: { job: string; id: number } };
  assert.deepEqual([exported.format, exported.manifest.job], ['sluice-checkpoint-export', 'tools']);
  // The member wrote the export to a scratch file to stream it, and removes it once sent.
  const scratch = async (): Promise<string[]> => {
    const left: string[] = [];
    for (const entry of await readdir(s.dir, { withFileTypes: true })) {
      if (entry.isDirectory()) left.push(...(await readdir(join(s.dir, entry.name, 'tmp')).catch(() => [])));
    }
    return left;
  };
  await waitFor(async () => (await scratch()).length === 0, { message: 'the scratch export to be removed', describe: scratch });
  // The same checkpoint as a backup document (JSON), assembled from the topic the same way.
  const document = (await (await fetch(`${env.SLUICE_URL}/v1/jobs/tools/checkpoints/backup?id=${exported.manifest.id}`)).json()) as { backup: { job: string; checkpoint: number; data: string } };
  assert.deepEqual([document.backup.job, document.backup.checkpoint], ['tools', exported.manifest.id]);
  assert.deepEqual(Buffer.from(document.backup.data, 'base64'), await readFile(backup), 'the document carries the same export');

  await produceCounted(s.kafka, s.input, 3_000, 4_000, KEYS);
  runs.push({ from: 3_000, to: 4_000, stateOf: 3_000 });
  await assertCountedOutput(s.kafka, output, runs, KEYS);

  assert.match(await ok(['checkpoint', 'restore', 'tools', '--input', backup], env), /published for its owner to restore \(cluster spec version 2\)/);
  runs.push({ from: 3_000, to: 4_000, stateOf: 3_000 }); // the backup's state, inputs from its positions again
  await assertCountedOutput(s.kafka, output, runs, KEYS);
  // The upload and the owner's read of the import went through scratch files, removed once done.
  await waitFor(async () => (await scratch()).length === 0, { message: 'the scratch import files to be removed', describe: scratch });

  // A savepoint (through the member that does not run the job) and submit --from its id.
  const savepoint = Number(/savepoint (\d+)/.exec(await ok(['savepoint', 'tools'], env))![1]);
  await produceCounted(s.kafka, s.input, 4_000, 4_500, KEYS);
  runs.push({ from: 4_000, to: 4_500, stateOf: 4_000 });
  await assertCountedOutput(s.kafka, output, runs, KEYS);
  const args = ['submit', file, '--from', String(savepoint), ...Object.entries(params).flatMap(([k, v]) => ['--set', `${k}=${v}`])];
  assert.match(await ok(args, env), new RegExp(`restoring ${savepoint} \\(published`));
  runs.push({ from: 4_000, to: 4_500, stateOf: 4_000 });
  await assertCountedOutput(s.kafka, output, runs, KEYS);

  // What cannot be: a checkpoint id the job does not have, a damaged backup, a savepoint file that does not exist.
  const missing = await sluice(['submit', file, '--from', '999999', ...args.slice(4)], env);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /has no replicated checkpoint 999999/);
  const damaged = { format: 'sluice-checkpoint-backup', version: 1, data: Buffer.from('not an export').toString('base64') };
  const response = await fetch(`${env.SLUICE_URL}/v1/jobs/tools/checkpoints/restore`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(damaged) });
  assert.equal(response.status, 400, 'a damaged backup publishes nothing');
  const upload = await fetch(`${env.SLUICE_URL}/v1/jobs/tools/checkpoints/import`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('not an export') });
  assert.equal(upload.status, 400, 'a damaged export publishes nothing');
  const noFile = await sluice(['submit', file, '--from', join(s.dir, 'nope.json'), ...args.slice(4)], env);
  assert.match(noFile.stderr, /does not exist/);
  await assertCountedOutput(s.kafka, output, runs, KEYS); // still exactly the same output

  // An import that is gone from the topic when the owner applies it (here: never published) fails the job at that
  // spec version with what to do, instead of being tried again on every rebalance.
  const admin = await s.kafka.admin();
  const topic = clusterTopics(s.cluster).jobs;
  const [metadata] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
  const jobs = await JobsLog.open({ kafka: s.kafka.kafka(), topic, partitions: metadata!.partitions.length, logger: silentLogger() });
  t.after(() => jobs.close());
  const spec = (await jobs.readAll()).get('tools')!;
  await jobs.write({ ...spec, override: { serial: spec.version + 1, kind: 'import' }, version: spec.version + 1 });
  await ok(['rescale', 'tools', '-p', '2'], env); // a spec change through a member: the cluster rebalances
  const failed = await waitFor(async () => {
    const j = (await clusterView(env.SLUICE_URL!)).jobs.find((x) => x.name === 'tools');
    return j?.state === 'failed' ? j : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200, message: 'the job failed for want of its import' });
  assert.match(failed.error ?? '', /cannot be read: its record is not in the checkpoints topic; restore the backup again/);
});

test('catch-up skips the backlog, clear reprocesses everything without state, delete --checkpoints forgets them', async (t) => {
  const s = await setup(t, 2_000);
  const { output, env } = await twoMembersAndAJob(s, 'tools2');
  const runs: CountedRun[] = [{ from: 0, to: 2_000, stateOf: 0 }];
  await assertCountedOutput(s.kafka, output, runs, KEYS);

  // Paused, a backlog arrives, catch-up: the resumed job keeps its counts but never reads the backlog.
  await ok(['pause', 'tools2'], env);
  await waitFor(async () => {
    const v = await clusterView(env.SLUICE_URL!);
    return v.jobs[0]?.state === 'stopped' && owners(v).size === 0;
  }, { timeoutMs: 60_000, intervalMs: 200, message: 'the job paused' });
  const paused = (await clusterView(env.SLUICE_URL!)).jobs[0]!.lastCheckpoint!.id;
  // No member runs it now: its status comes from the cluster's topics; what needs a run says where it stands.
  const status = await ok(['status', 'tools2'], env);
  assert.match(status, /state\s+paused/);
  assert.match(status, new RegExp(`\\b${paused}\\b.*savepoint`));
  const savepoint = await sluice(['savepoint', 'tools2'], env);
  assert.match(savepoint.stderr, /runs on no member of cluster .* now \(paused\); resume it with sluice resume tools2/);
  await produceCounted(s.kafka, s.input, 2_000, 2_500, KEYS);
  assert.match(await ok(['checkpoint', 'catch-up', 'tools2'], env), /latest position.*a paused one on its next resume/);
  await ok(['resume', 'tools2'], env);
  await checkpointAfter(s, 'tools2', paused); // its sources took their latest positions
  await produceCounted(s.kafka, s.input, 2_500, 2_800, KEYS);
  runs.push({ from: 2_500, to: 2_800, stateOf: 2_000 }); // the backlog 2,000–2,499 never counted
  await assertCountedOutput(s.kafka, output, runs, KEYS);

  // clear while it runs: it restarts without state and reads every input from the earliest position.
  assert.match(await ok(['checkpoint', 'clear', 'tools2'], env), /its checkpoints go as it starts; it reprocesses every source from the earliest position/);
  runs.push({ from: 0, to: 2_800, stateOf: 0 });
  await assertCountedOutput(s.kafka, output, runs, KEYS);

  await ok(['cancel', 'tools2'], env);
  await waitFor(async () => owners(await clusterView(env.SLUICE_URL!)).size === 0, { timeoutMs: 60_000, intervalMs: 200, message: 'the cancelled job stopped' });
  const listed = JSON.parse(await ok(['checkpoints', 'tools2', '--json'], env)) as unknown[];
  assert.ok(listed.length > 0);
  assert.match(await ok(['delete', 'tools2', '--checkpoints'], env), new RegExp(`${listed.length} checkpoint`));
  const gone = await sluice(['checkpoints', 'tools2'], env);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /not in cluster/);
});

/**
 * Membership changes of a running cluster (in-process members on one broker): a member leaving hands its jobs over
 * from savepoints, a member joining moves only what balance needs, and the leader dying elects another leader while
 * the other members' jobs keep running untouched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplicatedJobView } from '../../../runtime/cluster/checkpoints/replicated-view.ts';
import { clusterMemberTestHooks } from '../../../runtime/cluster/cluster-member.ts';
import { clusterTopics } from '../../../runtime/cluster/kafka/cluster-topics.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { ok } from '../../service/service-process.ts';
import { waitFor } from '../../support/wait-for.ts';
import { assertExactCounts, clusterView, owners } from './support/cluster-checks.ts';
import { KEYS, settled, setup } from './support/in-process-cluster.ts';

test('a member leaving hands its job over from a savepoint; the output stays exact', async (t) => {
  const s = await setup(t, 4_000);
  await s.join('a');
  await s.join('b');
  const output = await s.submit('handover');
  const before = await settled(s, 1);
  const leaving = s.members.find((m) => m.name === before.get('handover'))!;
  const staying = s.members.find((m) => m !== leaving)!;
  await leaving.close();
  await waitFor(async () => owners(await clusterView(staying.url)).get('handover') === staying.name, { timeoutMs: 60_000, intervalMs: 200, message: 'the job moved to the member that stays' });

  // Its assignment shows before the new owner has claimed the job (it reads the checkpoints topic first).
  const replicated = await waitFor(async () => {
    const v = await ReplicatedJobView.read({ kafka: s.kafka.kafka(), topic: clusterTopics(s.cluster).checkpoints, partitions: 1, job: 'handover', logger: silentLogger() });
    return v.claim?.member === staying.name ? v : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200, message: 'the member that stays claimed the job' });
  const basedOn = replicated.claim?.basedOn;
  assert.ok(basedOn, 'the new owner claimed the job from a checkpoint');
  const base = replicated.candidates.find((r) => r.manifest.id === basedOn.id);
  assert.equal(base?.manifest.kind, 'savepoint', 'the one the leaving member took as it stopped');
  await assertExactCounts(s.kafka, output, 4_000);
});

test('a member joining moves only what balance needs; the leader dying elects another and the others\' jobs keep running', async (t) => {
  const s = await setup(t, 2_000);
  for (const name of ['a', 'b', 'c']) await s.join(name);
  const outputs = new Map<string, string>();
  for (const job of ['j1', 'j2', 'j3', 'j4']) outputs.set(job, await s.submit(job));
  const before = await settled(s, 4);
  const load = new Map<string, number>();
  for (const member of before.values()) load.set(member, (load.get(member) ?? 0) + 1);
  assert.deepEqual([...load.values()].sort(), [1, 1, 2], 'four equal jobs on three members: 2, 1, 1');

  await s.join('d');
  const after = await waitFor(async () => {
    const now = owners(await clusterView(s.members[0]!.url));
    return now.size === 4 && [...now.values()].includes('d') ? now : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200, message: 'the new member got a job' });
  const moved = [...after].filter(([job, member]) => before.get(job) !== member);
  assert.equal(moved.length, 1, `exactly one job moved: ${JSON.stringify(moved)}`);
  assert.equal(load.get(before.get(moved[0]![0])!), 2, 'from the member that ran two');

  const leaderName = (await clusterView(s.members[0]!.url)).leader!;
  const leader = s.members.find((m) => m.name === leaderName)!;
  const survivors = s.members.filter((m) => m !== leader);
  const untouched = [...after].filter(([, member]) => member !== leaderName).map(([job]) => job);
  // When each of those runs started (the moved job may still be starting on its new member).
  const startedAt = await waitFor(async () => {
    const out = new Map<string, number>();
    for (const job of untouched) {
      const owner = survivors.find((m) => m.name === after.get(job))!;
      const response = await fetch(`${owner.url}/v1/jobs/${job}`);
      const status = response.ok ? ((await response.json()) as { job: { startedAt: number | null; state: string } }).job : undefined;
      if (status?.state !== 'running' || status.startedAt === null) return undefined;
      out.set(job, status.startedAt);
    }
    return out;
  }, { timeoutMs: 60_000, intervalMs: 200, message: 'every job running on its member' });
  await clusterMemberTestHooks(leader).crash();
  const last = await waitFor(async () => {
    const v = await clusterView(survivors[0]!.url);
    const now = owners(v);
    return v.leader !== null && v.leader !== leaderName && now.size === 4 && ![...now.values()].includes(leaderName) ? now : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200, message: 'a new leader, and the dead leader\'s jobs on the others' });
  for (const job of untouched) {
    assert.equal(last.get(job), after.get(job), `${job} stayed where it ran`);
    const owner = survivors.find((m) => m.name === last.get(job))!;
    const status = ((await (await fetch(`${owner.url}/v1/jobs/${job}`)).json()) as { job: { startedAt: number; state: string } }).job;
    assert.equal(status.startedAt, startedAt.get(job), `${job} was not restarted`);
  }
  for (const output of outputs.values()) await assertExactCounts(s.kafka, output, 2_000);
});

test('the CLI against any member: rescale, pause --all, resume --all, state, list, cancel and delete go through the cluster', async (t) => {
  const s = await setup(t, 3_000);
  await s.join('a');
  await s.join('b');
  const output = await s.submit('verbs');
  const owner = (await settled(s, 1)).get('verbs')!;
  const other = s.members.find((m) => m.name !== owner)!;
  const env = { SLUICE_URL: other.url };

  assert.match(await ok(['rescale', 'verbs', '-p', '3'], env), /job "verbs": parallelism 3 \(cluster spec version 2\)/);
  await waitFor(async () => {
    const response = await fetch(`${other.url}/v1/jobs/verbs`);
    return response.ok && ((await response.json()) as { job: { parallelism: number; state: string } }).job.parallelism === 3;
  }, { timeoutMs: 60_000, intervalMs: 200, message: 'the owner runs the job at parallelism 3 (asked through the other member)' });

  assert.match(await ok(['pause', '--all'], env), /1 job\(s\) set to paused: verbs/);
  await waitFor(async () => {
    const v = await clusterView(other.url);
    return v.jobs[0]?.state === 'stopped' && owners(v).size === 0;
  }, { timeoutMs: 60_000, intervalMs: 200, message: 'the job stopped and owned by no member' });
  const producer = await s.kafka.producer();
  await producer.send({ topic: s.input, messages: Array.from({ length: 1_000 }, (_, n) => ({ key: `k${(3_000 + n) % KEYS}`, value: JSON.stringify({ key: `k${(3_000 + n) % KEYS}`, i: 3_000 + n }) })) });
  assert.match(await ok(['resume', '--all'], env), /1 job\(s\) set to running: verbs/);
  await assertExactCounts(s.kafka, output, 4_000);
  // Keyed state, asked of the member that does not run the job: the owner answers from its newest checkpoint, which
  // covers every record once the output is committed.
  const k5 = JSON.parse(await ok(['state', 'verbs', '--operator', 'count', '--key', 'k5'], env)) as { key: string; value: { n: number } };
  assert.deepEqual([k5.key, k5.value.n], ['k5', Array.from({ length: 4_000 }, (_, n) => n).filter((n) => n % KEYS === 5).length]);

  assert.match(await ok(['list'], env), /verbs/);
  await ok(['cancel', 'verbs'], env);
  await waitFor(async () => owners(await clusterView(other.url)).size === 0, { timeoutMs: 60_000, intervalMs: 200, message: 'the cancelled job stopped' });
  await ok(['delete', 'verbs'], env);
  assert.deepEqual((await clusterView(other.url)).jobs, []);
});

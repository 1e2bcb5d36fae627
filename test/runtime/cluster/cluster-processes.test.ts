/**
 * Cluster members as `sluice start --cluster` processes, jobs on worker threads: kill -9 of a job's owner, and an
 * owner stopped (SIGSTOP) past its session timeout and then resumed — at once, or long after the new owner took
 * over — which must not change the output any more.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { ReplicatedJobView } from '../../../runtime/cluster/checkpoints/replicated-view.ts';
import { clusterTopics } from '../../../runtime/cluster/kafka/cluster-topics.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { ok, startService, type ServiceProcess } from '../../service/service-process.ts';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { assertExactCounts, assertExactDocuments, clusterView, jobOwners, keepProducing, owners, produceCounted } from './support/cluster-checks.ts';

const KAFKA_JOB = fileURLToPath(new URL('./fixtures/counts-to-kafka.ts', import.meta.url));
const ES_JOB = fileURLToPath(new URL('./fixtures/counts-to-es.ts', import.meta.url));
const BOTH_JOB = fileURLToPath(new URL('./fixtures/counts-to-both.ts', import.meta.url));
const LEVELDB_JOB = fileURLToPath(new URL('./fixtures/counts-to-kafka-leveldb.ts', import.meta.url));
const KEYS = 13;

interface Member extends ServiceProcess {
  readonly name: string;
}

async function startMember(t: TestContext, kafka: KafkaCluster, cluster: string, name: string, dir: string): Promise<Member> {
  const service = await startService(t, ['--cluster', cluster, '--brokers', kafka.brokers.join(','), '--name', name, '--session-timeout', '6000', '--data-dir', join(dir, name), '--workers', '2']);
  // Before the broker's own cleanup, which checks that no client is still connected.
  kafka.defer(async () => {
    service.child.kill('SIGKILL');
    await service.exited;
  });
  return { ...service, name };
}

test('kill -9 of a job\'s owner: another member resumes both jobs from the replicated checkpoints; Kafka output and Elasticsearch documents are exact', async (t) => {
  const kafka = await kafkaCluster(t, { numPartitions: 3 });
  const es = await elasticsearchNode(t);
  const dir = await tempDir(t, 'sluice-cluster-');
  const input = await kafka.createTopic({ partitions: 3 });
  const output = await kafka.createTopic({ partitions: 2 });
  const index = es.uniqueIndex('cluster-counts');
  const cluster = kafka.uniqueName('c');
  const RECORDS = 9_000;
  await produceCounted(kafka, input, 0, RECORDS / 3, KEYS);

  const members = [await startMember(t, kafka, cluster, 'a', dir), await startMember(t, kafka, cluster, 'b', dir), await startMember(t, kafka, cluster, 'c', dir)];
  const brokers = kafka.brokers.join(',');
  await ok(['submit', KAFKA_JOB, '--set', `brokers=${brokers}`, '--set', `input=${input}`, '--set', `output=${output}`, '--set', `txnPrefix=${kafka.uniqueName('txn')}`], { SLUICE_URL: members[0]!.url });
  await ok(['submit', ES_JOB, '--set', `brokers=${brokers}`, '--set', `input=${input}`, '--set', `esNode=${es.node}`, '--set', `index=${index}`], { SLUICE_URL: members[1]!.url });
  const placed = await waitFor(
    async () => {
      const view = await clusterView(members[2]!.url);
      const running = view.jobs.length === 2 && view.jobs.every((j) => j.state === 'running' && j.lastCheckpoint !== null);
      return running && owners(view).size === 2 ? owners(view) : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 200, message: 'both jobs running with a replicated checkpoint' },
  );
  // Each job on exactly one member, and every member acts on the same view.
  for (const m of members) assert.deepEqual(jobOwners(await clusterView(m.url)), new Map([...placed].map(([job, owner]) => [job, [owner]])));
  const status = await ok(['cluster', 'status'], { SLUICE_URL: members[0]!.url });
  assert.match(status, /cluster-counts-kafka\s+running\s+running\s+[abc]/);

  const victim = members.find((m) => m.name === placed.get('cluster-counts-kafka'))!;
  await produceCounted(kafka, input, RECORDS / 3, (2 * RECORDS) / 3, KEYS);
  victim.child.kill('SIGKILL');
  assert.equal(await victim.exited, null, 'killed');
  await produceCounted(kafka, input, (2 * RECORDS) / 3, RECORDS, KEYS);
  const survivor = members.find((m) => m !== victim)!;
  await waitFor(async () => {
    const now = owners(await clusterView(survivor.url));
    return now.size === 2 && ![...now.values()].includes(victim.name);
  }, { timeoutMs: 90_000, intervalMs: 200, message: 'the killed member\'s jobs run elsewhere' });

  await assertExactCounts(kafka, output, RECORDS);
  await assertExactDocuments(es, index, RECORDS, KEYS);
  // The cluster's producers name kafkajs's partitioner, so members don't log its v2 migration warning.
  for (const m of members) assert.doesNotMatch(m.stderr(), /switched default partitioner/);
});

test('kill -9 of the owner of a job on the LevelDB backend: the new owner restores its incremental chains from the replicated checkpoints, and the output is exact', async (t) => {
  const kafka = await kafkaCluster(t, { numPartitions: 3 });
  const dir = await tempDir(t, 'sluice-cluster-');
  const input = await kafka.createTopic({ partitions: 3 });
  const output = await kafka.createTopic({ partitions: 2 });
  const cluster = kafka.uniqueName('c');
  const RECORDS = 9_000;
  await produceCounted(kafka, input, 0, RECORDS / 3, KEYS);
  const members = [await startMember(t, kafka, cluster, 'a', dir), await startMember(t, kafka, cluster, 'b', dir)];
  await ok(['submit', LEVELDB_JOB, '--set', `brokers=${kafka.brokers.join(',')}`, '--set', `input=${input}`, '--set', `output=${output}`, '--set', `txnPrefix=${kafka.uniqueName('txn')}`], { SLUICE_URL: members[0]!.url });
  const lastCheckpoint = async (url: string): Promise<number> => (await clusterView(url)).jobs[0]?.lastCheckpoint?.id ?? 0;
  const running = await waitFor(async () => {
    const view = await clusterView(members[1]!.url);
    return view.jobs[0]?.state === 'running' && view.jobs[0].lastCheckpoint !== null ? { owner: owners(view).get('cluster-counts-leveldb'), checkpoint: view.jobs[0].lastCheckpoint.id } : undefined;
  }, { timeoutMs: 90_000, intervalMs: 200, message: 'the job running with a replicated checkpoint' });
  const victim = members.find((m) => m.name === running.owner)!;
  const survivor = members.find((m) => m !== victim)!;

  await produceCounted(kafka, input, RECORDS / 3, (2 * RECORDS) / 3, KEYS);
  // A few checkpoints past the first, so the restore reads chains of deltas, not one full blob per key group.
  await waitFor(async () => (await lastCheckpoint(survivor.url)) >= running.checkpoint + 3, { timeoutMs: 90_000, intervalMs: 100, message: 'three more checkpoints replicated' });
  victim.child.kill('SIGKILL');
  assert.equal(await victim.exited, null, 'killed');
  await produceCounted(kafka, input, (2 * RECORDS) / 3, RECORDS, KEYS);
  await waitFor(async () => owners(await clusterView(survivor.url)).get('cluster-counts-leveldb') === survivor.name, { timeoutMs: 90_000, intervalMs: 200, message: 'the job runs on the other member' });

  await assertExactCounts(kafka, output, RECORDS);
});

test('an owner stopped past its session timeout (SIGSTOP) loses its job; resumed (SIGCONT), its writes are fenced and the output stays exact', async (t) => {
  const kafka = await kafkaCluster(t, { numPartitions: 3 });
  const es = await elasticsearchNode(t);
  const dir = await tempDir(t, 'sluice-cluster-');
  const input = await kafka.createTopic({ partitions: 3 });
  const output = await kafka.createTopic({ partitions: 2 });
  const index = es.uniqueIndex('cluster-both');
  const cluster = kafka.uniqueName('c');
  const RECORDS = 9_000;
  await produceCounted(kafka, input, 0, RECORDS / 3, KEYS);
  const members = [await startMember(t, kafka, cluster, 'a', dir), await startMember(t, kafka, cluster, 'b', dir)];
  await ok(['submit', BOTH_JOB, '--set', `brokers=${kafka.brokers.join(',')}`, '--set', `input=${input}`, '--set', `output=${output}`, '--set', `txnPrefix=${kafka.uniqueName('txn')}`, '--set', `esNode=${es.node}`, '--set', `index=${index}`], { SLUICE_URL: members[0]!.url });
  const ownerName = await waitFor(async () => {
    const view = await clusterView(members[1]!.url);
    return view.jobs[0]?.state === 'running' && view.jobs[0].lastCheckpoint !== null ? owners(view).get('cluster-counts-both') : undefined;
  }, { timeoutMs: 90_000, intervalMs: 200, message: 'the job running with a replicated checkpoint' });
  const owner = members.find((m) => m.name === ownerName)!;
  const other = members.find((m) => m !== owner)!;

  await produceCounted(kafka, input, RECORDS / 3, (2 * RECORDS) / 3, KEYS);
  owner.child.kill('SIGSTOP');
  await waitFor(async () => owners(await clusterView(other.url)).get('cluster-counts-both') === other.name, { timeoutMs: 90_000, intervalMs: 200, message: 'the other member took the job over' });
  owner.child.kill('SIGCONT');
  await produceCounted(kafka, input, (2 * RECORDS) / 3, RECORDS, KEYS);
  await waitFor(async () => (await clusterView(other.url)).members.length === 2, { timeoutMs: 90_000, intervalMs: 200, message: 'the resumed member back in the group' });

  await assertExactCounts(kafka, output, RECORDS);
  await assertExactDocuments(es, index, RECORDS, KEYS);
  assert.equal(owners(await clusterView(other.url)).get('cluster-counts-both'), other.name, 'the job stays with its new owner');
  assert.match(owner.stderr(), /membership lost/, 'the resumed member knew it had lost the job');
});

test('an owner resumed long after its job moved, while records keep coming, changes nothing: the output stays exact', async (t) => {
  const kafka = await kafkaCluster(t, { numPartitions: 3 });
  const dir = await tempDir(t, 'sluice-cluster-');
  const input = await kafka.createTopic({ partitions: 3 });
  const output = await kafka.createTopic({ partitions: 2 });
  const cluster = kafka.uniqueName('c');
  await produceCounted(kafka, input, 0, 3_000, KEYS);
  const members = [await startMember(t, kafka, cluster, 'a', dir), await startMember(t, kafka, cluster, 'b', dir)];
  await ok(['submit', KAFKA_JOB, '--set', `brokers=${kafka.brokers.join(',')}`, '--set', `input=${input}`, '--set', `output=${output}`, '--set', `txnPrefix=${kafka.uniqueName('txn')}`], { SLUICE_URL: members[0]!.url });
  const job = 'cluster-counts-kafka';
  const ownerName = await waitFor(async () => {
    const view = await clusterView(members[1]!.url);
    return view.jobs[0]?.state === 'running' && view.jobs[0].lastCheckpoint !== null ? owners(view).get(job) : undefined;
  }, { timeoutMs: 90_000, intervalMs: 200, message: 'the job running with a replicated checkpoint' });
  const owner = members.find((m) => m.name === ownerName)!;
  const other = members.find((m) => m !== owner)!;

  // Records keep coming, so both the stopped owner (sends in flight, an open transaction) and the new one have output
  // to write when the stopped one resumes.
  const feed = keepProducing(kafka, input, 3_000, KEYS);
  await sleep(300);
  owner.child.kill('SIGSTOP');
  // Its own checkpoints, five past its first (the topic keeps the newest three).
  let first: number | undefined;
  await waitFor(async () => {
    const view = await ReplicatedJobView.read({ kafka: kafka.kafka(), topic: clusterTopics(cluster).checkpoints, partitions: 1, job, logger: silentLogger() });
    const claim = view.claim;
    const ids = claim?.member === other.name ? view.candidates.filter((r) => r.epoch === claim.epoch).map((r) => r.manifest.id) : [];
    if (ids.length === 0) return false;
    first ??= Math.min(...ids);
    return Math.max(...ids) >= first + 5;
  }, { timeoutMs: 90_000, intervalMs: 200, message: 'the new owner running, with checkpoints of its own' });
  owner.child.kill('SIGCONT');
  await waitFor(() => /membership lost/.test(owner.stderr()), { timeoutMs: 30_000, intervalMs: 100, message: 'the resumed member knew it had lost the job' });
  await sleep(500);
  const produced = await feed.stop();

  await assertExactCounts(kafka, output, produced);
  assert.equal(owners(await clusterView(other.url)).get(job), other.name, 'the job stays with its new owner');
});

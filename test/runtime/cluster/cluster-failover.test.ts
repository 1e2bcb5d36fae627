/**
 * Three cluster members on one broker, two jobs (Kafka → Kafka exactly-once, Kafka → Elasticsearch): each job runs on
 * exactly one member, and when the owner of a job dies mid-stream another member resumes it from the checkpoint
 * replicated through Kafka: the read_committed output has one record per input, in per-key order, and the documents
 * equal a failure-free run.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { clusterMemberTestHooks, startClusterMember, type RunningClusterMember } from '../../../runtime/cluster/cluster-member.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { readCommitted } from '../../support/kafka-committed.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';

const KAFKA_JOB = fileURLToPath(new URL('./fixtures/counts-to-kafka.ts', import.meta.url));
const ES_JOB = fileURLToPath(new URL('./fixtures/counts-to-es.ts', import.meta.url));
const KEYS = 13;
const keyOf = (i: number): string => `k${i % KEYS}`;

interface ClusterView {
  members: Array<{ name: string; url: string; jobs: string[] }>;
  jobs: Array<{ name: string; owner: string | null; state: string; lastCheckpoint: { id: number } | null }>;
}

async function call<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json = (await response.json()) as T & { error?: { message: string } };
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${json.error?.message}`);
  return json;
}

const clusterView = async (member: RunningClusterMember): Promise<ClusterView> => (await call<{ cluster: ClusterView }>(member.url, 'GET', '/v1/cluster')).cluster;

async function startMembers(t: TestContext, kafka: KafkaCluster, name: string, count: number): Promise<RunningClusterMember[]> {
  const members: RunningClusterMember[] = [];
  for (let i = 0; i < count; i++) {
    const member = await startClusterMember({ cluster: name, brokers: kafka.brokers, dataDir: await tempDir(t, `sluice-member-${i}-`), port: 0, workers: 0, sessionTimeoutMs: 6_000, logger: silentLogger() });
    kafka.defer(() => member.close());
    members.push(member);
  }
  return members;
}

async function produce(kafka: KafkaCluster, topic: string, from: number, to: number): Promise<void> {
  const producer = await kafka.producer();
  const messages = [];
  for (let i = from; i < to; i++) messages.push({ key: keyOf(i), value: JSON.stringify({ key: keyOf(i), i }) });
  for (let n = 0; n < messages.length; n += 500) await producer.send({ topic, messages: messages.slice(n, n + 500) });
}

/** Each job is in exactly one member's list, and every member sees the same. */
function ownersOf(view: ClusterView): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const m of view.members) for (const job of m.jobs) owners.set(job, [...(owners.get(job) ?? []), m.name]);
  return owners;
}

test('two jobs on three members run on one member each; when an owner dies, another resumes from the replicated checkpoint with exact output', async (t) => {
  const kafka = await kafkaCluster(t, { numPartitions: 3 });
  const es = await elasticsearchNode(t);
  const input = await kafka.createTopic({ partitions: 3 });
  const output = await kafka.createTopic({ partitions: 2 });
  const index = es.uniqueIndex('cluster-counts');
  const clusterName = kafka.uniqueName('c');
  const RECORDS = 6_000;
  await produce(kafka, input, 0, RECORDS / 2);

  const members = await startMembers(t, kafka, clusterName, 3);
  const brokers = kafka.brokers.join(',');
  await call(members[0]!.url, 'POST', '/v1/jobs', { file: KAFKA_JOB, params: { brokers, input, output, txnPrefix: kafka.uniqueName('txn') } });
  await call(members[1]!.url, 'POST', '/v1/jobs', { file: ES_JOB, params: { brokers, input, esNode: es.node, index } });

  const placed = await waitFor(
    async () => {
      const view = await clusterView(members[2]!);
      const owners = ownersOf(view);
      const ready = view.jobs.length === 2 && view.jobs.every((j) => j.state === 'running' && j.lastCheckpoint !== null);
      return ready && owners.size === 2 && [...owners.values()].every((o) => o.length === 1) ? owners : undefined;
    },
    { timeoutMs: 60_000, message: 'both jobs running, each on one member, with a replicated checkpoint' },
  );
  // Every member acts on the same view.
  for (const m of members) assert.deepEqual(ownersOf(await clusterView(m)), placed);

  // The owner of the Kafka job dies mid-stream.
  const victimName = placed.get('cluster-counts-kafka')![0]!;
  const victim = members.find((m) => m.name === victimName)!;
  await produce(kafka, input, RECORDS / 2, RECORDS);
  await clusterMemberTestHooks(victim).crash();
  const survivors = members.filter((m) => m !== victim);

  await waitFor(
    async () => {
      const owners = ownersOf(await clusterView(survivors[0]!));
      const kafkaOwner = owners.get('cluster-counts-kafka')?.[0];
      return kafkaOwner !== undefined && kafkaOwner !== victimName && owners.get('cluster-counts-es')?.[0] !== victimName;
    },
    { timeoutMs: 60_000, message: 'the dead member\'s jobs moved to the others' },
  );

  // Not a kafkajs read_committed consumer: its filter lets aborted records through when transactions interleave
  // (test/support/kafka-committed.ts), and a failover leaves exactly that.
  const { committed } = await waitFor(
    async () => {
      const contents = await readCommitted(kafka, output, 2);
      return contents.committed.length >= RECORDS ? contents : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 1_000, message: `all ${RECORDS} counts committed` },
  );
  const records = committed;
  const seen = new Map<string, Array<{ i: number; n: number }>>();
  for (const r of records) {
    const value = JSON.parse(r.value) as { key: string; i: number; n: number };
    seen.set(value.key, [...(seen.get(value.key) ?? []), { i: value.i, n: value.n }]);
  }
  assert.equal(records.length, RECORDS, 'one output record per input record: nothing lost, nothing repeated');
  for (const [key, updates] of seen) {
    assert.deepEqual(updates.map((u) => u.n), updates.map((_, n) => n + 1), `counts of ${key} in order`);
    const inputs = updates.map((u) => u.i);
    assert.deepEqual(inputs, [...inputs].sort((a, b) => a - b), `inputs of ${key} in order`);
  }

  const client = es.client();
  await waitFor(
    async () => {
      await client.indices.refresh({ index });
      const { hits } = await client.search<{ key: string; n: number }>({ index, size: 100 });
      const docs = new Map(hits.hits.map((h) => [h._id, h._source!.n]));
      return [...Array(KEYS).keys()].every((k) => docs.get(`k${k}`) === Math.ceil((RECORDS - k) / KEYS));
    },
    { timeoutMs: 60_000, message: 'every document holds its key\'s full count' },
  );
});

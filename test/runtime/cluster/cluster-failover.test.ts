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
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { assertExactCounts, assertExactDocuments, clusterView, jobOwners, produceCounted, submitJob } from './support/cluster-checks.ts';

const KAFKA_JOB = fileURLToPath(new URL('./fixtures/counts-to-kafka.ts', import.meta.url));
const ES_JOB = fileURLToPath(new URL('./fixtures/counts-to-es.ts', import.meta.url));
const KEYS = 13;

async function startMembers(t: TestContext, kafka: KafkaCluster, name: string, count: number): Promise<RunningClusterMember[]> {
  const members: RunningClusterMember[] = [];
  for (let i = 0; i < count; i++) {
    const member = await startClusterMember({ cluster: name, brokers: kafka.brokers, dataDir: await tempDir(t, `sluice-member-${i}-`), port: 0, workers: 0, sessionTimeoutMs: 6_000, logger: silentLogger() });
    kafka.defer(() => member.close());
    members.push(member);
  }
  return members;
}

test('two jobs on three members run on one member each; when an owner dies, another resumes from the replicated checkpoint with exact output', async (t) => {
  const kafka = await kafkaCluster(t, { numPartitions: 3 });
  const es = await elasticsearchNode(t);
  const input = await kafka.createTopic({ partitions: 3 });
  const output = await kafka.createTopic({ partitions: 2 });
  const index = es.uniqueIndex('cluster-counts');
  const clusterName = kafka.uniqueName('c');
  const RECORDS = 6_000;
  await produceCounted(kafka, input, 0, RECORDS / 2, KEYS);

  const members = await startMembers(t, kafka, clusterName, 3);
  const brokers = kafka.brokers.join(',');
  await submitJob(members[0]!.url, { file: KAFKA_JOB, params: { brokers, input, output, txnPrefix: kafka.uniqueName('txn') } });
  await submitJob(members[1]!.url, { file: ES_JOB, params: { brokers, input, esNode: es.node, index } });

  const placed = await waitFor(
    async () => {
      const view = await clusterView(members[2]!.url);
      const owners = jobOwners(view);
      const ready = view.jobs.length === 2 && view.jobs.every((j) => j.state === 'running' && j.lastCheckpoint !== null);
      return ready && owners.size === 2 && [...owners.values()].every((o) => o.length === 1) ? owners : undefined;
    },
    { timeoutMs: 60_000, message: 'both jobs running, each on one member, with a replicated checkpoint' },
  );
  // Every member acts on the same view.
  for (const m of members) assert.deepEqual(jobOwners(await clusterView(m.url)), placed);

  // The owner of the Kafka job dies mid-stream.
  const victimName = placed.get('cluster-counts-kafka')![0]!;
  const victim = members.find((m) => m.name === victimName)!;
  await produceCounted(kafka, input, RECORDS / 2, RECORDS, KEYS);
  await clusterMemberTestHooks(victim).crash();
  const survivors = members.filter((m) => m !== victim);

  await waitFor(
    async () => {
      const owners = jobOwners(await clusterView(survivors[0]!.url));
      const kafkaOwner = owners.get('cluster-counts-kafka')?.[0];
      return kafkaOwner !== undefined && kafkaOwner !== victimName && owners.get('cluster-counts-es')?.[0] !== victimName;
    },
    { timeoutMs: 60_000, message: 'the dead member\'s jobs moved to the others' },
  );

  await assertExactCounts(kafka, output, RECORDS);
  await assertExactDocuments(es, index, RECORDS, KEYS);
});

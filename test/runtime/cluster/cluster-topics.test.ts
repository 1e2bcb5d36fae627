/**
 * The cluster's topics hold its jobs and checkpoints, so by default they get three replicas (as many as the Kafka
 * cluster has brokers when it has fewer) and, with three, `min.insync.replicas=2`; existing topics with a single
 * replica on a cluster of several brokers are reported. The devstack has one broker, so the decision is checked
 * against a stand-in for kafkajs's admin client that answers as a Kafka cluster of n brokers would.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Admin } from 'kafkajs';
import { clusterTopics, ensureClusterTopics } from '../../../runtime/cluster/kafka/cluster-topics.ts';

interface Created {
  topic: string;
  replicationFactor?: number;
  configEntries?: Array<{ name: string; value: string }>;
}

/** Answers as a Kafka cluster of `brokers` brokers holding `existing` topics (name → replicas of each partition). */
function adminOf(brokers: number, existing: Record<string, number> = {}): { admin: Admin; created: Created[] } {
  const created: Created[] = [];
  const replicas = new Map(Object.entries(existing));
  const admin = {
    describeCluster: async () => ({ brokers: Array.from({ length: brokers }, (_, i) => ({ nodeId: i, host: `b${i}`, port: 9092 })), controller: 0, clusterId: 'c' }),
    listTopics: async () => [...replicas.keys()],
    createTopics: async ({ topics }: { topics: Created[] }) => {
      for (const t of topics) {
        created.push(t);
        replicas.set(t.topic, t.replicationFactor ?? 1);
      }
      return true;
    },
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
      topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 0, replicas: Array.from({ length: replicas.get(name) ?? 0 }, (_, i) => i), isr: [0] }] })),
    }),
  };
  return { admin: admin as unknown as Admin, created };
}

const topics = clusterTopics('prod');
const minIsr = (t: Created): string | undefined => t.configEntries?.find((c) => c.name === 'min.insync.replicas')?.value;

test('on a Kafka cluster of three brokers or more, the cluster topics get three replicas and min.insync.replicas=2', async () => {
  for (const brokers of [3, 5]) {
    const { admin, created } = adminOf(brokers);
    const found = await ensureClusterTopics(admin, topics);
    assert.deepEqual(created.map((t) => [t.topic, t.replicationFactor, minIsr(t)]), [
      [topics.jobs, 3, '2'],
      [topics.status, 3, '2'],
      [topics.checkpoints, 3, '2'],
    ]);
    assert.deepEqual(found.warnings, []);
    assert.deepEqual(found.partitions, { jobs: 1, status: 1, checkpoints: 1 });
  }
});

test('on fewer brokers (the devstack has one) as many replicas as brokers, and no warning', async () => {
  for (const brokers of [1, 2]) {
    const { admin, created } = adminOf(brokers);
    const found = await ensureClusterTopics(admin, topics);
    assert.ok(created.every((t) => t.replicationFactor === brokers && minIsr(t) === undefined));
    assert.deepEqual(found.warnings, []);
  }
});

test('--replication-factor decides when given; existing topics with a single replica on several brokers are reported', async () => {
  const given = adminOf(3);
  assert.deepEqual((await ensureClusterTopics(given.admin, topics, { replicationFactor: 2 })).warnings, [], 'two replicas survive a broker');
  assert.ok(given.created.every((t) => t.replicationFactor === 2 && minIsr(t) === undefined));

  const { admin, created } = adminOf(3, { [topics.jobs]: 1, [topics.status]: 3, [topics.checkpoints]: 1 });
  const found = await ensureClusterTopics(admin, topics);
  assert.deepEqual(created, [], 'existing topics are left as they are');
  assert.equal(found.warnings.length, 2);
  assert.match(found.warnings[0]!, /the cluster topic sluice\.prod\.jobs has 1 replica on a Kafka cluster of 3 brokers: losing that broker can lose the cluster's jobs; raise its replication factor/);
  assert.match(found.warnings[1]!, /sluice\.prod\.checkpoints has 1 replica/);
});

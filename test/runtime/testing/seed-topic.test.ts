import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { ConfigResourceTypes } from 'kafkajs';
import { seedTopic } from '../../../runtime/testing/index.ts';
import { SEED_EPOCH_MS } from '../../../runtime/testing/kafka-topics.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { waitFor } from '../../support/wait-for.ts';

// kafkajs's ConfigResourceTypes.TOPIC; its CommonJS enum is not a named export Node can import.
const TOPIC = 2 as ConfigResourceTypes;

test('a seeded topic keeps its records, stamped long ago, through the broker\'s retention checks', async (t) => {
  // The devstack checks retention every 20 ms here; a real broker every 5 minutes (so the retention.ms check below
  // is what holds there).
  const cluster = await kafkaCluster(t, { logRetentionCheckIntervalMs: 20 });
  const topic = cluster.uniqueName('seeded');
  await seedTopic(cluster.brokers, topic, ['a', 'b', 'c']);

  const admin = await cluster.admin();
  const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: TOPIC, name: topic, configNames: ['retention.ms'] }] });
  assert.equal(resources[0]?.configEntries[0]?.configValue, '-1');

  await sleep(200); // several retention checks of the devstack broker
  const { records } = await cluster.collect(topic);
  await waitFor(() => records.length === 3, { message: 'the three seeded records' });
  assert.deepEqual(records.map((r) => [r.value, Number(r.timestamp)]), [['a', SEED_EPOCH_MS], ['b', SEED_EPOCH_MS + 1], ['c', SEED_EPOCH_MS + 2]]);
});

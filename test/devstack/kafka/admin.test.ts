// Admin operations as users rely on them: topics created, grown and deleted, and the cluster described so that
// admin requests find their controller.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { kafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

test('describeCluster names a controller that is one of the brokers', async (t) => {
  const cluster = await kafkaCluster(t)
  const admin = await cluster.admin()
  const description = await admin.describeCluster()
  assert.ok(description.brokers.length >= 1)
  assert.ok(description.brokers.some((b) => b.nodeId === description.controller), 'controller is a listed broker')
  assert.equal(typeof description.clusterId, 'string')
})

test('createTopics creates a topic with its partitions, and reports an existing one', async (t) => {
  const cluster = await kafkaCluster(t)
  const admin = await cluster.admin()
  const topic = cluster.uniqueName('topic')
  // replicationFactor must be explicit for Kafka < 2.4 (kafkajs's default -1 is INVALID_REPLICATION_FACTOR there).
  assert.equal(
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true }),
    true,
  )
  assert.ok((await admin.listTopics()).includes(topic))
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
  assert.deepEqual(
    topics[0]!.partitions.map((p) => p.partitionId).sort(),
    [0, 1, 2],
  )
  for (const p of topics[0]!.partitions) assert.ok(p.leader >= 0, `partition ${p.partitionId} has a leader`)
  // kafkajs answers false (not an error) when the topic exists: TOPIC_ALREADY_EXISTS from the broker.
  assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] }), false)
})

test('createPartitions grows a topic from 2 to 5 and producers can write to the new partitions', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 2 })
  const admin = await cluster.admin()
  const before = await cluster.producer()
  await before.send({ topic, messages: [{ value: 'old-0', partition: 0 }, { value: 'old-1', partition: 1 }] })

  await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }] })
  await waitFor(
    async () => {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
      return topics[0]!.partitions.length === 5 && topics[0]!.partitions.every((p) => p.leader >= 0)
    },
    { message: 'five partitions with leaders in the metadata' },
  )
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
  assert.deepEqual(
    topics[0]!.partitions.map((p) => p.partitionId).sort(),
    [0, 1, 2, 3, 4],
  )

  // A producer that learns the metadata after the change writes to every partition, old and new.
  const producer = await cluster.producer()
  await producer.send({ topic, messages: [2, 3, 4].map((partition) => ({ value: `new-${partition}`, partition })) })
  const offsets = [...(await admin.fetchTopicOffsets(topic))].sort((a, b) => a.partition - b.partition)
  assert.deepEqual(
    offsets.map((o) => o.high),
    ['1', '1', '1', '1', '1'],
  )
  const { records } = await cluster.collect(topic)
  await waitFor(() => records.length >= 5, { timeoutMs: 15_000, message: 'a record from each of the five partitions' })
  assert.deepEqual(
    records.map((r) => `${r.partition}:${r.value}`).sort(),
    ['0:old-0', '1:old-1', '2:new-2', '3:new-3', '4:new-4'],
  )

  // Shrinking is not a thing in Kafka: asking for fewer partitions fails (INVALID_PARTITIONS).
  await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] }))
})

test('deleteTopics removes the topic', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 2 })
  const keep = await cluster.createTopic({ partitions: 1 })
  const producer = await cluster.producer()
  await producer.send({ topic, messages: [{ value: 'doomed' }] })
  await producer.send({ topic: keep, messages: [{ value: 'kept' }] })
  const admin = await cluster.admin()

  await admin.deleteTopics({ topics: [topic] })
  // Deletion completes asynchronously on a real cluster.
  await waitFor(async () => !(await admin.listTopics()).includes(topic), { message: `${topic} to disappear` })
  assert.ok((await admin.listTopics()).includes(keep), 'other topics are untouched')
  const offsets = await admin.fetchTopicOffsets(keep)
  assert.equal(offsets[0]!.high, '1')
})

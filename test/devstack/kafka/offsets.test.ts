// Offsets as users rely on them: committed positions are where a group resumes, seek replays, admin can set a
// group's position before it runs, and the offset lookups (earliest/latest, by timestamp) answer like Kafka.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { KafkaMessage } from 'kafkajs'
import { kafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

const values = (n: number, prefix = 'v'): Array<{ value: string }> => Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}` }))

test('committed offsets are fetched by admin and are where the group resumes', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 2 })
  const producer = await cluster.producer()
  await producer.send({ topic, messages: values(10).map((m) => ({ ...m, partition: 0 })) })
  const groupId = cluster.uniqueName('group')

  const first = await cluster.consumer({ groupId })
  const seen: KafkaMessage[] = []
  await first.subscribe({ topic, fromBeginning: true })
  await first.run({ autoCommit: false, eachMessage: async ({ message }) => void seen.push(message) })
  await waitFor(() => seen.length === 10, { message: 'ten records' })
  await first.commitOffsets([{ topic, partition: 0, offset: '6' }])

  const admin = await cluster.admin()
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
  assert.equal(offsets!.topic, topic)
  assert.deepEqual(
    [...offsets!.partitions].sort((a, b) => a.partition - b.partition).map((p) => [p.partition, p.offset]),
    [
      [0, '6'],
      [1, '-1'],
    ],
  )
  await first.disconnect()

  const second = await cluster.consumer({ groupId })
  const resumed: KafkaMessage[] = []
  await second.subscribe({ topic, fromBeginning: true })
  await second.run({ eachMessage: async ({ message }) => void resumed.push(message) })
  await waitFor(() => resumed.length >= 4, { timeoutMs: 15_000, message: 'the group to resume at offset 6' })
  assert.deepEqual(
    resumed.map((m) => m.offset),
    ['6', '7', '8', '9'],
  )
  assert.deepEqual(
    resumed.map((m) => m.value!.toString()),
    ['v6', 'v7', 'v8', 'v9'],
  )
})

test('consumer.seek replays from the chosen offset, in order', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 1 })
  const producer = await cluster.producer()
  await producer.send({ topic, messages: values(20) })

  const consumer = await cluster.consumer()
  const seen: string[] = []
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.offset) })
  await waitFor(() => seen.length === 20, { message: 'twenty records' })

  consumer.seek({ topic, partition: 0, offset: '5' })
  await waitFor(() => seen.length === 35, {
    message: 'offsets 5..19 again after seek',
    describe: () => `${seen.length} consumed`,
  })
  const expected = [...Array.from({ length: 20 }, (_, i) => i), ...Array.from({ length: 15 }, (_, i) => i + 5)]
  assert.deepEqual(seen.map(Number), expected)
})

test('admin.setOffsets positions an empty group, which then consumes from there', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 2 })
  const producer = await cluster.producer()
  await producer.send({
    topic,
    messages: [
      ...values(10, 'p0-').map((m) => ({ ...m, partition: 0 })),
      ...values(4, 'p1-').map((m) => ({ ...m, partition: 1 })),
    ],
  })
  const groupId = cluster.uniqueName('group')
  const admin = await cluster.admin()

  await admin.setOffsets({
    groupId,
    topic,
    partitions: [
      { partition: 0, offset: '7' },
      { partition: 1, offset: '2' },
    ],
  })
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
  assert.deepEqual(
    [...offsets!.partitions].sort((a, b) => a.partition - b.partition).map((p) => p.offset),
    ['7', '2'],
  )
  const { groups } = await admin.describeGroups([groupId])
  assert.equal(groups[0]!.state, 'Empty', 'a group with committed offsets and no members is Empty')

  const { records } = await cluster.collect(topic, { groupId })
  await waitFor(() => records.length >= 5, { timeoutMs: 15_000, message: 'five records from the set offsets' })
  const byPartition = (p: number): Array<string | null> => records.filter((r) => r.partition === p).map((r) => r.value)
  assert.deepEqual(byPartition(0), ['p0-7', 'p0-8', 'p0-9'])
  assert.deepEqual(byPartition(1), ['p1-2', 'p1-3'])
})

test('admin.fetchTopicOffsets reports low and high watermarks per partition', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 3 })
  const producer = await cluster.producer()
  await producer.send({ topic, messages: values(10).map((m) => ({ ...m, partition: 0 })) })
  await producer.send({ topic, messages: values(3).map((m) => ({ ...m, partition: 2 })) })

  const admin = await cluster.admin()
  const offsets = await admin.fetchTopicOffsets(topic)
  assert.deepEqual(
    [...offsets].sort((a, b) => a.partition - b.partition),
    [
      { partition: 0, offset: '10', high: '10', low: '0' },
      { partition: 1, offset: '0', high: '0', low: '0' },
      { partition: 2, offset: '3', high: '3', low: '0' },
    ],
  )
})

test('admin.fetchTopicOffsetsByTimestamp finds the first offset at or after a timestamp', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 2 })
  const producer = await cluster.producer()
  const t0 = Date.now() - 60_000
  // Three sends a second apart (by record timestamp), two records each, all on partition 0.
  for (let i = 0; i < 3; i++) {
    const timestamp = String(t0 + i * 1_000)
    await producer.send({
      topic,
      messages: [
        { value: `s${i}a`, partition: 0, timestamp },
        { value: `s${i}b`, partition: 0, timestamp },
      ],
    })
  }

  const admin = await cluster.admin()
  const at = async (timestamp: number): Promise<string[]> =>
    [...(await admin.fetchTopicOffsetsByTimestamp(topic, timestamp))]
      .sort((a, b) => a.partition - b.partition)
      .map((p) => p.offset)

  assert.deepEqual(await at(t0 - 5_000), ['0', '0'], 'before everything: the first offset')
  assert.deepEqual(await at(t0), ['0', '0'])
  assert.deepEqual(await at(t0 + 500), ['2', '0'], 'between the first and second send')
  assert.deepEqual(await at(t0 + 2_000), ['4', '0'])
  // No record that late: Kafka answers -1, which kafkajs turns into the high watermark.
  assert.deepEqual(await at(t0 + 10_000), ['6', '0'], 'after everything: the high watermark')

  // Record timestamps (CreateTime) come back as the producer set them.
  const consumer = await cluster.consumer()
  const seen: string[] = []
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message }) => void seen.push(`${message.value!.toString()}@${Number(message.timestamp) - t0}`),
  })
  await waitFor(() => seen.length >= 6, { message: 'all six records' })
  assert.deepEqual(seen, ['s0a@0', 's0b@0', 's1a@1000', 's1b@1000', 's2a@2000', 's2b@2000'])
})

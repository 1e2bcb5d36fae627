// DeleteRecords (KIP-107) as admin users and retention tooling see it: the log start offset moves up (never down),
// reads begin there, an offset past the high watermark is refused, and the start survives a broker restart.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Admin } from 'kafkajs'
import { devstackOnly, kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

async function deleteBelow(admin: Admin, topic: string, offset: string): Promise<void> {
  // kafkajs 2.2.4's deleteTopicRecords looks up the partition's leader before it loads the topic's metadata.
  await admin.fetchTopicMetadata({ topics: [topic] })
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset }] })
}

async function watermarks(admin: Admin, topic: string): Promise<[string, string]> {
  const [p] = await admin.fetchTopicOffsets(topic)
  return [p!.low, p!.high]
}

/** The offsets and values a new consumer reads from the beginning, once it has read up to `through`. */
async function readFromStart(cluster: KafkaCluster, topic: string, through: number): Promise<Array<[string, string | null]>> {
  const { records } = await cluster.collect(topic)
  await waitFor(() => records.some((r) => Number(r.offset) >= through), { timeoutMs: 30_000, message: `records up to offset ${through}` })
  return records.map((r) => [r.offset, r.value])
}

test('deleting records moves the log start offset up to the requested offset, and reads begin there', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic()
  const producer = await cluster.producer()
  for (let i = 0; i < 10; i++) await producer.send({ topic, messages: [{ value: `v${i}` }] })
  const admin = await cluster.admin()

  await deleteBelow(admin, topic, '4')
  assert.deepEqual(await watermarks(admin, topic), ['4', '10'])
  assert.deepEqual(await readFromStart(cluster, topic, 9), [4, 5, 6, 7, 8, 9].map((i) => [String(i), `v${i}`]))

  await deleteBelow(admin, topic, '2') // below the start: nothing moves back
  assert.deepEqual(await watermarks(admin, topic), ['4', '10'])

  // kafkajs gives up at once (KafkaJSNonRetriableError) with the partition's error as the cause.
  type Refusal = { name?: string; cause?: Refusal; partitions?: Array<{ error: { type?: string } }> }
  await assert.rejects(deleteBelow(admin, topic, '11'), (err: Refusal) => {
    const refusal = err.name === 'KafkaJSDeleteTopicRecordsError' ? err : err.cause
    assert.equal(refusal?.partitions?.[0]?.error.type, 'OFFSET_OUT_OF_RANGE')
    return true
  })

  await deleteBelow(admin, topic, '-1') // everything up to the high watermark
  assert.deepEqual(await watermarks(admin, topic), ['10', '10'])
  await producer.send({ topic, messages: [{ value: 'v10' }] })
  assert.deepEqual(await readFromStart(cluster, topic, 10), [['10', 'v10']])
})

test('a log start offset inside a batch survives a broker restart', { skip: devstackOnly('restarts the broker') }, async (t) => {
  const cluster = await kafkaCluster(t, { persistent: true })
  const topic = await cluster.createTopic()
  const producer = await cluster.producer()
  await producer.send({ topic, messages: [0, 1, 2, 3, 4].map((i) => ({ value: `v${i}` })) }) // one batch, offsets 0-4
  await producer.send({ topic, messages: [{ value: 'v5' }] })
  const admin = await cluster.admin()
  await deleteBelow(admin, topic, '3')

  await cluster.restart()
  assert.deepEqual(await watermarks(admin, topic), ['3', '6'])
  assert.deepEqual(await readFromStart(cluster, topic, 5), [3, 4, 5].map((i) => [String(i), `v${i}`]))
})

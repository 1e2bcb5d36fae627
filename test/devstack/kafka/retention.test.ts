// Retention of topics with cleanup.policy=delete, as a user who sets retention.ms or retention.bytes sees it: whole
// segments go from the oldest, the earliest offset moves to the first one left, and readers start there. Devstack
// only: a real broker checks retention every log.retention.check.interval.ms (5 min by default), a broker setting.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Admin, ConfigResourceTypes, Producer } from 'kafkajs'
import { devstackOnly, kafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

// kafkajs's ConfigResourceTypes.TOPIC; its CommonJS enum is not a named export Node can import.
const TOPIC = 2 as ConfigResourceTypes
const needs = devstackOnly('checks retention every 20 ms (log.retention.check.interval.ms is a broker setting)')
const CLUSTER = { logRetentionCheckIntervalMs: 20, persistent: true }

async function low(admin: Admin, topic: string): Promise<number> {
  const [p] = await admin.fetchTopicOffsets(topic)
  return Number(p!.low)
}

/** Sends one record per batch, each `gapMs` after the previous: with segment.ms below the gap, one segment each. */
async function sendSpaced(producer: Producer, topic: string, values: string[], gapMs: number): Promise<void> {
  for (const value of values) {
    await producer.send({ topic, messages: [{ value }] })
    await new Promise((resolve) => setTimeout(resolve, gapMs))
  }
}

test('retention.ms deletes the segments whose newest record is older, and reads start at the first one left', { skip: needs }, async (t) => {
  const cluster = await kafkaCluster(t, CLUSTER)
  const topic = await cluster.createTopic({ configs: { 'retention.ms': '400', 'segment.ms': '10' } })
  const producer = await cluster.producer()
  await sendSpaced(producer, topic, ['old-0', 'old-1', 'old-2'], 20)
  const admin = await cluster.admin()
  await waitFor(async () => (await low(admin, topic)) === 3, { timeoutMs: 10_000, message: 'the three old records to expire' })

  // Keep what comes next, however long the reads below take on a loaded machine.
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '-1' }, { name: 'segment.ms', value: '10' }] }] })
  await producer.send({ topic, messages: [{ value: 'new-3' }] })
  const { records } = await cluster.collect(topic)
  await waitFor(() => records.length === 1, { message: 'the record after the expiry' })
  assert.deepEqual(records.map((r) => [r.offset, r.value]), [['3', 'new-3']])

  await cluster.restart() // the log start offset and the shortened file survive
  assert.equal(await low(admin, topic), 3)
})

test('retention.bytes deletes the oldest segments while the partition is over by at least their size', { skip: needs }, async (t) => {
  const cluster = await kafkaCluster(t, CLUSTER)
  const value = 'x'.repeat(100) // one batch of one record: ~170 bytes
  const topic = await cluster.createTopic({ configs: { 'retention.bytes': '500', 'segment.ms': '10' } })
  const producer = await cluster.producer()
  await sendSpaced(producer, topic, Array.from({ length: 8 }, () => value), 20)
  const admin = await cluster.admin()
  // Eight segments of 169 bytes (1352): a segment goes only while what is left stays at or above 500 bytes, so three
  // are left (507 bytes; without the oldest of them, 338).
  await waitFor(async () => (await low(admin, topic)) === 5, { timeoutMs: 10_000, message: 'the log to shrink to three segments' })
  const [p] = await admin.fetchTopicOffsets(topic)
  assert.equal(p!.high, '8')
})

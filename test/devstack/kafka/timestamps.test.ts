// Record timestamps as topic configs decide them: CreateTime keeps the producer's, LogAppendTime replaces them with
// the broker's append time (answered in the produce response too), and message.timestamp.difference.max.ms refuses
// records stamped too far from the broker's clock.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { kafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

const LONG_AGO = '1000' // 1970: far from any broker's clock

test('CreateTime keeps the timestamp the producer set', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic()
  const producer = await cluster.producer()
  const [meta] = await producer.send({ topic, messages: [{ value: 'v', timestamp: LONG_AGO }] })
  assert.equal(meta!.logAppendTime, '-1')
  const { records } = await cluster.collect(topic)
  await waitFor(() => records.length === 1, { message: 'the record' })
  assert.equal(records[0]!.timestamp, LONG_AGO)
})

test('LogAppendTime stamps every record of a batch with the broker\'s append time, as the produce response says', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ configs: { 'message.timestamp.type': 'LogAppendTime' } })
  const producer = await cluster.producer()
  const before = Date.now()
  const [meta] = await producer.send({ topic, messages: [{ value: 'a', timestamp: LONG_AGO }, { value: 'b', timestamp: '2000' }] })
  const appended = Number(meta!.logAppendTime)
  assert.ok(appended >= before - 1_000, `append time ${appended} is the broker's clock, not the producer's ${LONG_AGO}`)
  const { records } = await cluster.collect(topic)
  await waitFor(() => records.length === 2, { message: 'both records' })
  assert.deepEqual(records.map((r) => [r.value, Number(r.timestamp)]), [['a', appended], ['b', appended]])
})

test('a record stamped further from the broker\'s clock than message.timestamp.difference.max.ms is refused with INVALID_TIMESTAMP', async (t) => {
  const cluster = await kafkaCluster(t)
  // Kafka 4.0 removed message.timestamp.difference.max.ms for message.timestamp.before.max.ms (KIP-937, 3.6+), which
  // refuses old timestamps the same way; the devstack speaks 2.1's.
  const name = cluster.uniqueName('old-timestamps')
  const topic = await cluster.createTopic({ name, configs: { 'message.timestamp.difference.max.ms': '3600000' } }).catch((err: { errors?: Array<{ type?: string }> }) => {
    if (err.errors?.some((e) => e.type === 'INVALID_CONFIG') !== true) throw err // kafkajs's KafkaJSAggregateError
    return cluster.createTopic({ name, configs: { 'message.timestamp.before.max.ms': '3600000' } })
  })
  const producer = await cluster.producer({ retry: { retries: 0 } })
  await assert.rejects(producer.send({ topic, messages: [{ value: 'old', timestamp: LONG_AGO }] }), (err: { type?: string; cause?: { type?: string } }) => {
    assert.equal(err.type ?? err.cause?.type, 'INVALID_TIMESTAMP')
    return true
  })
  await producer.send({ topic, messages: [{ value: 'now' }] })
  const { records } = await cluster.collect(topic)
  await waitFor(() => records.length === 1, { message: 'the record stamped now' })
  assert.deepEqual(records.map((r) => r.value), ['now'])
})

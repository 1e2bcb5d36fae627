// Devstack durability: with a data directory, a broker restart keeps records, committed offsets and transaction
// outcomes — what a Sluice job restarted together with `sluice dev` relies on. (Real Kafka's durability is not
// ours to test, and restarting it is not something a test can do: these tests are devstack-only.)
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { devstackOnly, kafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

const skip = devstackOnly('restarts the broker on its data directory')

test('records, committed offsets and transaction outcomes survive a restart', { skip }, async (t) => {
  const cluster = await kafkaCluster(t, { persistent: true })
  const topic = await cluster.createTopic({ partitions: 2 })
  const txnTopic = await cluster.createTopic({ prefix: 'txn', partitions: 1 })
  const groupId = cluster.uniqueName('group')

  const producer = await cluster.producer()
  const plain = Array.from({ length: 40 }, (_, i) => ({ key: `k${i % 5}`, value: `v${i}`, partition: i % 2 }))
  await producer.send({ topic, messages: plain.slice(0, 20) })
  await producer.send({ topic, messages: plain.slice(20) })

  const txProducer = await cluster.producer({ transactionalId: cluster.uniqueName('txn'), maxInFlightRequests: 1 })
  const committedTxn = await txProducer.transaction()
  await committedTxn.send({ topic: txnTopic, messages: [{ value: 'committed-0' }, { value: 'committed-1' }] })
  await committedTxn.commit()
  const abortedTxn = await txProducer.transaction()
  await abortedTxn.send({ topic: txnTopic, messages: [{ value: 'aborted-0' }] })
  await abortedTxn.abort()

  const admin = await cluster.admin()
  await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '15' }, { partition: 1, offset: '3' }] })
  const highBefore = await admin.fetchTopicOffsets(topic)
  const txnHighBefore = await admin.fetchTopicOffsets(txnTopic)
  // Clients made before the restart must reconnect on their own, like against a restarted real broker.
  await cluster.restart()

  assert.deepEqual(await admin.fetchTopicOffsets(topic), highBefore, 'watermarks unchanged by the restart')
  assert.deepEqual(await admin.fetchTopicOffsets(txnTopic), txnHighBefore)
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
  assert.deepEqual(
    [...offsets!.partitions].sort((a, b) => a.partition - b.partition).map((p) => p.offset),
    ['15', '3'],
    'committed offsets survive',
  )

  const all = await cluster.collect(topic)
  await waitFor(() => all.records.length >= 40, { timeoutMs: 15_000, message: 'the 40 records after restart' })
  for (let p = 0; p < 2; p++) {
    assert.deepEqual(
      all.records.filter((r) => r.partition === p).map((r) => `${r.offset}:${r.key}:${r.value}`),
      plain.filter((m) => m.partition === p).map((m, i) => `${i}:${m.key}:${m.value}`),
      `partition ${p} intact and in order`,
    )
  }

  const resumed = await cluster.collect(topic, { groupId })
  await waitFor(() => resumed.records.length >= 22, { timeoutMs: 15_000, message: 'the group to resume at 15 / 3' })
  assert.deepEqual(
    resumed.records.filter((r) => r.partition === 0).map((r) => r.offset)[0],
    '15',
  )
  assert.deepEqual(
    resumed.records.filter((r) => r.partition === 1).map((r) => r.offset)[0],
    '3',
  )

  const readCommitted = await cluster.collect(txnTopic)
  const readUncommitted = await cluster.collect(txnTopic, { readUncommitted: true })
  await waitFor(() => readUncommitted.records.length >= 3, { timeoutMs: 15_000, message: 'all three transactional records' })
  await waitFor(() => readCommitted.records.length >= 2, { timeoutMs: 15_000, message: 'the committed transaction' })
  assert.deepEqual(
    readCommitted.records.map((r) => r.value),
    ['committed-0', 'committed-1'],
    'the aborted transaction stays aborted after restart',
  )

  // New writes continue after the old log instead of reusing offsets.
  await producer.send({ topic, messages: [{ value: 'after-restart', partition: 0 }] })
  await waitFor(() => all.records.some((r) => r.value === 'after-restart'), { message: 'the post-restart record' })
  assert.equal(all.records.find((r) => r.value === 'after-restart')!.offset, '20')

  // The transactional id is still known: a new transaction from the same producer commits.
  const again = await txProducer.transaction()
  await again.send({ topic: txnTopic, messages: [{ value: 'committed-2' }] })
  await again.commit()
  await waitFor(() => readCommitted.records.length >= 3, { message: 'the post-restart transaction' })
  assert.equal(readCommitted.records[2]!.value, 'committed-2')
})

test('a restart without traffic in flight loses nothing written before a clean close', { skip }, async (t) => {
  const cluster = await kafkaCluster(t, { persistent: true })
  const topic = await cluster.createTopic({ partitions: 1 })
  const producer = await cluster.producer()
  for (let round = 0; round < 3; round++) {
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `r${round}-${i}` })) })
    await cluster.restart()
  }
  const { records } = await cluster.collect(topic)
  await waitFor(() => records.length >= 30, { timeoutMs: 15_000, message: '30 records across three restarts' })
  assert.deepEqual(
    records.map((r) => Number(r.offset)),
    Array.from({ length: 30 }, (_, i) => i),
  )
  assert.equal(records.length, 30)
})

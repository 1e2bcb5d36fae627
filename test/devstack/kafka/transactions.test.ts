// Idempotence and transactions as exactly-once users rely on them: nothing duplicated, read_committed consumers see
// only committed records and stop at the last stable offset, offsets sent in a transaction become visible on
// commit only, and a newer producer with the same transactionalId fences the old one.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { kafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

/** kafkajs wraps protocol errors (retry exhaustion, non-retriable bail); collect every `type` along the chain. */
function errorTypes(err: unknown): string[] {
  const types: string[] = []
  const seen = new Set<unknown>()
  let current: unknown = err
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current)
    const e = current as { type?: unknown; cause?: unknown; originalError?: unknown }
    if (typeof e.type === 'string') types.push(e.type)
    current = e.originalError ?? e.cause
  }
  return types
}

test('an idempotent producer delivers every record once, in order', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 2 })
  const producer = await cluster.producer({ idempotent: true, maxInFlightRequests: 1 })
  const sent: string[] = []
  for (let s = 0; s < 5; s++) {
    const messages = Array.from({ length: 200 }, (_, i) => ({ value: `s${s}-${i}`, partition: i % 2 }))
    sent.push(...messages.map((m) => m.value))
    await producer.send({ topic, messages })
  }
  const { records } = await cluster.collect(topic)
  await waitFor(() => records.length >= sent.length, { timeoutMs: 15_000, message: `${sent.length} records` })
  assert.equal(records.length, sent.length)
  for (let p = 0; p < 2; p++) {
    assert.deepEqual(
      records.filter((r) => r.partition === p).map((r) => r.value),
      sent.filter((_, i) => i % 2 === p),
      `partition ${p}: each record once, in send order`,
    )
  }
})

test('read_committed consumers see committed transactions only; read_uncommitted sees all', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 2 })
  const producer = await cluster.producer({ transactionalId: cluster.uniqueName('txn'), maxInFlightRequests: 1 })
  const sendTxn = async (prefix: string, end: 'commit' | 'abort' | 'open') => {
    const txn = await producer.transaction()
    await txn.send({ topic, messages: Array.from({ length: 4 }, (_, i) => ({ value: `${prefix}${i}`, partition: i % 2 })) })
    if (end === 'commit') await txn.commit()
    if (end === 'abort') await txn.abort()
    return txn
  }
  await sendTxn('c', 'commit')
  await sendTxn('a', 'abort')
  await sendTxn('d', 'commit')
  const open = await sendTxn('o', 'open')

  const committed = await cluster.collect(topic) // read_committed: kafkajs's default
  const uncommitted = await cluster.collect(topic, { readUncommitted: true })
  const values = (records: typeof committed.records, p: number): Array<string | null> =>
    records.filter((r) => r.partition === p).map((r) => r.value)

  await waitFor(() => uncommitted.records.length >= 16, {
    timeoutMs: 15_000,
    message: 'read_uncommitted to see all 16 records, open transaction included',
  })
  assert.deepEqual(values(uncommitted.records, 0), ['c0', 'c2', 'a0', 'a2', 'd0', 'd2', 'o0', 'o2'])
  assert.deepEqual(values(uncommitted.records, 1), ['c1', 'c3', 'a1', 'a3', 'd1', 'd3', 'o1', 'o3'])

  await waitFor(() => committed.records.length >= 8, { timeoutMs: 15_000, message: 'the 8 committed records' })
  // The open transaction is fetchable (read_uncommitted got it), yet read_committed stops at the last stable offset.
  const admin = await cluster.admin()
  const lso = [...(await admin.fetchTopicOffsets(topic))].sort((a, b) => a.partition - b.partition)
  assert.deepEqual(
    lso.map((p) => p.high),
    // Per partition: three ended transactions of 2 data records + 1 control record each → the open one starts at 9.
    ['9', '9'],
    'read_committed latest offset is the start of the open transaction',
  )
  assert.deepEqual(values(committed.records, 0), ['c0', 'c2', 'd0', 'd2'])
  assert.deepEqual(values(committed.records, 1), ['c1', 'c3', 'd1', 'd3'])

  await open.commit()
  await waitFor(() => committed.records.length >= 12, { timeoutMs: 15_000, message: 'the open transaction after commit' })
  assert.deepEqual(values(committed.records, 0), ['c0', 'c2', 'd0', 'd2', 'o0', 'o2'])
  assert.deepEqual(values(committed.records, 1), ['c1', 'c3', 'd1', 'd3', 'o1', 'o3'])
  assert.ok(!committed.records.some((r) => r.value!.startsWith('a')), 'no aborted record reached read_committed')
})

test('consume-transform-produce: offsets sent in a transaction are visible only once it commits', async (t) => {
  const cluster = await kafkaCluster(t)
  const input = await cluster.createTopic({ prefix: 'input', partitions: 1 })
  const output = await cluster.createTopic({ prefix: 'output', partitions: 1 })
  const source = await cluster.producer()
  await source.send({ topic: input, messages: Array.from({ length: 10 }, (_, i) => ({ value: `w${i}` })) })

  const groupId = cluster.uniqueName('group')
  const consumer = await cluster.consumer({ groupId })
  const batch: string[] = []
  await consumer.subscribe({ topic: input, fromBeginning: true })
  await consumer.run({ autoCommit: false, eachMessage: async ({ message }) => void batch.push(message.value!.toString()) })
  await waitFor(() => batch.length === 10, { message: 'the ten input records' })

  const admin = await cluster.admin()
  const committedOffset = async (): Promise<string> => {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [input] })
    return offsets!.partitions.find((p) => p.partition === 0)!.offset
  }
  const outputEnd = async (): Promise<string> => (await admin.fetchTopicOffsets(output)).find((p) => p.partition === 0)!.high

  const producer = await cluster.producer({ transactionalId: cluster.uniqueName('txn'), maxInFlightRequests: 1 })
  const txn = await producer.transaction()
  await txn.send({ topic: output, messages: batch.slice(0, 5).map((v) => ({ value: v.toUpperCase() })) })
  await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '5' }] }] })
  assert.equal(await committedOffset(), '-1', 'offsets of an open transaction are not committed yet')
  assert.equal(await outputEnd(), '0', 'output of an open transaction is past the last stable offset')
  await txn.commit()
  // EndTxn returns once the commit is decided; the markers (also in __consumer_offsets) follow asynchronously.
  await waitFor(async () => (await committedOffset()) === '5', { message: 'offsets committed with the transaction' })

  const aborted = await producer.transaction()
  await aborted.send({ topic: output, messages: batch.slice(5).map((v) => ({ value: v.toUpperCase() })) })
  await aborted.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '10' }] }] })
  await aborted.abort()

  const { records } = await cluster.collect(output)
  // Control records take offsets too: 5 data + commit marker + 5 aborted data + abort marker.
  await waitFor(async () => (await outputEnd()) === '12', { message: 'both transaction markers written' })
  assert.equal(await committedOffset(), '5', 'offsets of an aborted transaction are discarded')
  await waitFor(() => records.length >= 5, { message: 'the five committed output records' })
  assert.deepEqual(
    records.map((r) => r.value),
    ['W0', 'W1', 'W2', 'W3', 'W4'],
  )
})

test('a second producer with the same transactionalId fences the first', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 1 })
  const transactionalId = cluster.uniqueName('txn')
  // No retries: the fencing error is not retriable anyway, and retries would only slow a failure down.
  const first = await cluster.producer({ transactionalId, maxInFlightRequests: 1, retry: { retries: 0 } })
  const zombie = await first.transaction()
  await zombie.send({ topic, messages: [{ value: 'from-first' }] })

  const second = await cluster.producer({ transactionalId, maxInFlightRequests: 1 })
  const txn = await second.transaction() // InitProducerId: bumps the epoch, aborts the first's open transaction
  await txn.send({ topic, messages: [{ value: 'from-second' }] })
  await txn.commit()

  await assert.rejects(zombie.commit(), (err: unknown) => {
    const types = errorTypes(err)
    // Kafka 2.1–2.6 answer INVALID_PRODUCER_EPOCH (47); newer brokers may say PRODUCER_FENCED (90).
    assert.ok(
      types.includes('INVALID_PRODUCER_EPOCH') || types.includes('PRODUCER_FENCED'),
      `expected a fencing error, got ${types.join(' ← ') || String(err)}`,
    )
    return true
  })

  const committed = await cluster.collect(topic)
  const everything = await cluster.collect(topic, { readUncommitted: true })
  await waitFor(() => everything.records.length >= 2, { timeoutMs: 15_000, message: 'both records in the log' })
  await waitFor(() => committed.records.length >= 1, { timeoutMs: 15_000, message: 'the second producer’s record' })
  assert.deepEqual(
    everything.records.map((r) => r.value),
    ['from-first', 'from-second'],
  )
  assert.deepEqual(
    committed.records.map((r) => r.value),
    ['from-second'],
    'the fenced producer’s record was aborted',
  )
})

// kafkajs clients riding out broker trouble, injected with the devstack's fault API (a real cluster cannot be told
// to misbehave on cue, so these are devstack-only). What users rely on: no record lost, none duplicated.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { devstackOnly, kafkaCluster } from '../../support/kafka-cluster.ts'
import type { KafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

const NOT_LEADER_FOR_PARTITION = 6

const faultsOf = (cluster: KafkaCluster) => {
  const devstack = cluster.devstack
  if (!devstack) throw new Error('fault injection needs the devstack broker')
  return devstack.faults
}

test(
  'an idempotent producer whose response is lost retries without duplicating',
  { skip: devstackOnly('delays Produce responses past the client timeout') },
  async (t) => {
    const cluster = await kafkaCluster(t)
    const topic = await cluster.createTopic({ partitions: 1 })
    const faults = faultsOf(cluster)
    const kafka = cluster.kafka({ requestTimeout: 500, retry: { initialRetryTime: 100, retries: 8 } })
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    cluster.defer(() => producer.disconnect())
    await producer.connect()
    await producer.send({ topic, messages: [{ value: 'warm-up' }] })

    // The broker appends the batch but its answer comes after the client gave up: the client must resend the
    // same batch (same producer id and sequence) and the broker must recognise it as a duplicate.
    let timeouts = 0
    producer.on(producer.events.REQUEST_TIMEOUT, () => {
      timeouts++
      faults.clear()
    })
    faults.delayResponses('Produce', 1_500)
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `once-${i}` })) })
    assert.ok(timeouts >= 1, 'the first attempt timed out on the client')

    await producer.send({ topic, messages: [{ value: 'after' }] })
    const { records } = await cluster.collect(topic)
    await waitFor(() => records.some((r) => r.value === 'after'), { message: 'the record sent after the retry' })
    assert.deepEqual(
      records.map((r) => r.value),
      ['warm-up', ...Array.from({ length: 10 }, (_, i) => `once-${i}`), 'after'],
    )
  },
)

test(
  'retriable Produce errors are retried and each record is stored once',
  { skip: devstackOnly('answers Produce with NOT_LEADER_FOR_PARTITION') },
  async (t) => {
    const cluster = await kafkaCluster(t)
    const topic = await cluster.createTopic({ partitions: 2 })
    const producer = await cluster.producer()
    cluster.devstack!.faults.failNext('Produce', NOT_LEADER_FOR_PARTITION, 2)
    const values = Array.from({ length: 20 }, (_, i) => `r${i}`)
    await producer.send({ topic, messages: values.map((value, i) => ({ value, partition: i % 2 })) })
    const { records } = await cluster.collect(topic)
    await waitFor(() => records.length >= 20, { message: 'twenty records' })
    assert.deepEqual(records.map((r) => r.value).sort(), [...values].sort())
    const admin = await cluster.admin()
    const offsets = await admin.fetchTopicOffsets(topic)
    assert.deepEqual(
      offsets.map((o) => o.high),
      ['10', '10'],
      'nothing stored by the failed attempts',
    )
  },
)

test(
  'producer and consumer group carry on after every connection is dropped and the broker restarts',
  { skip: devstackOnly('drops connections and restarts the broker') },
  async (t) => {
    const cluster = await kafkaCluster(t)
    const topic = await cluster.createTopic({ partitions: 2 })
    const faults = faultsOf(cluster)
    const producer = await cluster.producer({ idempotent: true, maxInFlightRequests: 1 })
    const consumer = await cluster.consumer({ heartbeatInterval: 300, maxWaitTimeInMs: 100 })
    const seen: string[] = []
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({ autoCommitThreshold: 1, eachMessage: async ({ message }) => void seen.push(message.value!.toString()) })

    const sent: string[] = []
    const sendRound = async (label: string): Promise<void> => {
      const values = Array.from({ length: 50 }, (_, i) => `${label}-${i}`)
      sent.push(...values)
      await producer.send({ topic, messages: values.map((value, i) => ({ value, partition: i % 2 })) })
    }
    const allSeen = (what: string) =>
      waitFor(() => sent.every((v) => seen.includes(v)), {
        timeoutMs: 30_000,
        message: what,
        describe: () => `${sent.filter((v) => seen.includes(v)).length}/${sent.length} seen`,
      })

    await sendRound('before')
    await allSeen('the first round')
    faults.dropConnections()
    await sendRound('after-drop')
    await allSeen('the round after the connections were dropped')
    await faults.restart({ downMs: 300 })
    await sendRound('after-restart')
    await allSeen('the round after the restart')

    const counts = new Map<string, number>()
    for (const v of seen) counts.set(v, (counts.get(v) ?? 0) + 1)
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([v]) => v)
    assert.deepEqual(duplicated, [], 'no record delivered twice')
    assert.equal(seen.length, sent.length)
  },
)

test(
  'a client that starts while connections are refused connects once they are accepted again',
  { skip: devstackOnly('refuses connections for a while') },
  async (t) => {
    const cluster = await kafkaCluster(t)
    const topic = await cluster.createTopic({ partitions: 1 })
    cluster.devstack!.faults.refuseConnections(1_000)
    const startedAt = Date.now()
    const producer = await cluster.producer() // kafkajs retries the connection with backoff
    await producer.send({ topic, messages: [{ value: 'through' }] })
    t.diagnostic(`connected and produced ${Date.now() - startedAt} ms after connections were refused`)
    const admin = await cluster.admin()
    assert.equal((await admin.fetchTopicOffsets(topic))[0]!.high, '1')
  },
)

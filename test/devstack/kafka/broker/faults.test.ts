import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { startKafkaBroker } from '../../../../devstack/kafka/index.ts'
import type { KafkaBroker } from '../../../../devstack/kafka/index.ts'

async function setup(t: import('node:test').TestContext): Promise<{ broker: KafkaBroker; kafka: Kafka; topic: string }> {
  const broker = await startKafkaBroker()
  t.after(() => broker.close())
  const kafka = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING, retry: { initialRetryTime: 50, retries: 8 } })
  const admin = kafka.admin()
  await admin.connect()
  t.after(() => admin.disconnect())
  const topic = `faults-${Math.random().toString(36).slice(2)}`
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] })
  return { broker, kafka, topic }
}

async function high(kafka: Kafka, topic: string): Promise<string> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    return (await admin.fetchTopicOffsets(topic))[0]!.high
  } finally {
    await admin.disconnect()
  }
}

test('failNext answers the next requests of an API with the error; kafkajs retries through it', async (t) => {
  const { broker, kafka, topic } = await setup(t)
  const producer = kafka.producer()
  await producer.connect()
  t.after(() => producer.disconnect())
  broker.faults.failNext('Produce', 6, 2) // NOT_LEADER_FOR_PARTITION, retriable
  await producer.send({ topic, messages: [{ value: 'a' }] })
  assert.equal(await high(kafka, topic), '1', 'written once, after two refused attempts')
  broker.faults.failNext(0, 10, 1) // MESSAGE_TOO_LARGE, by API key: not retriable
  await assert.rejects(producer.send({ topic, messages: [{ value: 'b' }] }))
  assert.equal(await high(kafka, topic), '1')
})

test('delayResponses holds an API’s answers; 0 removes the delay', async (t) => {
  const { broker, kafka, topic } = await setup(t)
  const producer = kafka.producer()
  await producer.connect()
  t.after(() => producer.disconnect())
  // A delay far above what a send takes on a loaded machine, so "not delayed" is told apart by a wide margin.
  broker.faults.delayResponses('produce', 2_000)
  let started = Date.now()
  await producer.send({ topic, messages: [{ value: 'slow' }] })
  assert.ok(Date.now() - started >= 1_990, `delayed ${Date.now() - started} ms`)
  broker.faults.delayResponses('Produce', 0)
  started = Date.now()
  await producer.send({ topic, messages: [{ value: 'fast' }] })
  assert.ok(Date.now() - started < 1_000, `not delayed any more (${Date.now() - started} ms)`)
  assert.throws(() => broker.faults.delayResponses('NoSuchApi', 1), /does not implement/)
})

test('dropConnections closes sockets; clients reconnect and nothing is lost', async (t) => {
  const { broker, kafka, topic } = await setup(t)
  const producer = kafka.producer()
  await producer.connect()
  t.after(() => producer.disconnect())
  await producer.send({ topic, messages: [{ value: '1' }] })
  broker.faults.dropConnections()
  await new Promise((r) => setTimeout(r, 20))
  await producer.send({ topic, messages: [{ value: '2' }] })
  assert.equal(await high(kafka, topic), '2')
})

test('refuseConnections refuses new connections for a while, then accepts again', async (t) => {
  const { broker } = await setup(t)
  const [host, port] = broker.brokers[0]!.split(':') as [string, string]
  const connect = (): Promise<'connected' | string> =>
    new Promise((resolve) => {
      const s = net.connect({ host, port: Number(port) })
      s.once('connect', () => {
        s.destroy()
        resolve('connected')
      })
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    })
  broker.faults.refuseConnections(300)
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(await connect(), 'ECONNREFUSED')
  await new Promise((r) => setTimeout(r, 400))
  assert.equal(await connect(), 'connected')
})

test('restart keeps in-memory state and the port', async (t) => {
  const { broker, kafka, topic } = await setup(t)
  const producer = kafka.producer()
  await producer.connect()
  t.after(() => producer.disconnect())
  await producer.send({ topic, messages: [{ value: 'before' }] })
  await broker.faults.restart({ downMs: 100 })
  await producer.send({ topic, messages: [{ value: 'after' }] })
  assert.equal(await high(kafka, topic), '2')
})

import assert from 'node:assert/strict'
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Kafka, logLevel } from 'kafkajs'
import { startKafkaBroker } from '../../../../devstack/kafka/index.ts'
import { PartitionLog } from '../../../../devstack/kafka/log/partition-log.ts'
import { DataDir } from '../../../../devstack/kafka/persistence/data-dir.ts'
import { crc32c } from '../../../../devstack/kafka/protocol/crc32c.ts'

/** Cleanups run last-registered-first (t.after runs first-registered-first, which would remove the dir too early). */
function cleanups(t: import('node:test').TestContext): (fn: () => unknown) => void {
  const fns: Array<() => unknown> = []
  t.after(async () => {
    for (const fn of fns.reverse()) await fn()
  })
  return (fn) => void fns.push(fn)
}

function tempDir(defer: (fn: () => unknown) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kafka-log-'))
  defer(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** One-record idempotent batch (producerId, epoch, baseSequence) with a valid CRC. */
function idempotentBatch(producerId: number, epoch: number, sequence: number, value: string): Buffer {
  const v = Buffer.from(value)
  const body = Buffer.from([0, 0, 0, 1, (v.length * 2) & 0x7f, ...v, 0])
  const record = Buffer.concat([Buffer.from([body.length * 2]), body])
  const b = Buffer.alloc(61 + record.length)
  b.writeInt32BE(b.length - 12, 8)
  b.writeInt8(2, 16)
  b.writeBigInt64BE(1000n, 27)
  b.writeBigInt64BE(1000n, 35)
  b.writeBigInt64BE(BigInt(producerId), 43)
  b.writeInt16BE(epoch, 51)
  b.writeInt32BE(sequence, 53)
  b.writeInt32BE(1, 57)
  record.copy(b, 61)
  b.writeUInt32BE(crc32c(b, 21), 17)
  return b
}

test('producer state is rebuilt from the log: a retried batch after a restart is not appended twice', (t) => {
  const dir = new DataDir(tempDir(cleanups(t)))
  const log = new PartitionLog('t', 0, dir.openPartition('t', 0))
  assert.equal(log.appendFromProducer(idempotentBatch(9, 0, 0, 'a')).baseOffset, 0)
  assert.equal(log.appendFromProducer(idempotentBatch(9, 0, 1, 'b')).baseOffset, 1)
  log.close()

  const reopened = new PartitionLog('t', 0, dir.openPartition('t', 0))
  for (const b of dir.loadPartition('t', 0)) reopened.recover(b.buf, b.header, b.baseOffset)
  assert.equal(reopened.highWatermark, 2)
  const retry = reopened.appendFromProducer(idempotentBatch(9, 0, 1, 'b'))
  assert.deepEqual([retry.errorCode, retry.baseOffset], [0, 1], 'duplicate answered with its original offset')
  assert.equal(reopened.highWatermark, 2)
  assert.equal(reopened.appendFromProducer(idempotentBatch(9, 0, 5, 'gap')).errorCode, 45, 'OUT_OF_ORDER_SEQUENCE_NUMBER')
  assert.equal(reopened.appendFromProducer(idempotentBatch(9, 0, 2, 'c')).baseOffset, 2)
  reopened.close()
})

test('a torn last batch in a log file is cut off on startup and writing continues after the last whole batch', async (t) => {
  const defer = cleanups(t)
  const dataDir = tempDir(defer)
  let broker = await startKafkaBroker({ dataDir })
  const kafka = (): Kafka => new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING })
  const topic = 'torn'
  let admin = kafka().admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] })
  let producer = kafka().producer()
  await producer.connect()
  await producer.send({ topic, messages: [{ value: 'one' }, { value: 'two' }] })
  await producer.disconnect()
  await admin.disconnect()
  await broker.close()

  const file = join(dataDir, 'logs', topic, '0.log')
  const size = statSync(file).size
  appendFileSync(file, Buffer.from([0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 80, 1, 2, 3])) // half a batch header
  broker = await startKafkaBroker({ dataDir })
  defer(() => broker.close())
  assert.equal(statSync(file).size, size, 'torn tail truncated')

  admin = kafka().admin()
  await admin.connect()
  defer(() => admin.disconnect())
  producer = kafka().producer()
  await producer.connect()
  defer(() => producer.disconnect())
  const [result] = await producer.send({ topic, messages: [{ value: 'three' }] })
  assert.equal(result!.baseOffset, '2')
  assert.equal((await admin.fetchTopicOffsets(topic))[0]!.high, '3')
})

/**
 * Is the devstack broker fast enough not to be the bottleneck of our benchmarks? kafkajs against it, compared with
 * kafkajs against a real Apache Kafka 2.1.1 broker on the same machine kind.
 *
 * Run: `npx tsx bench/kafka-broker.ts` (devstack broker in a child process, with a data directory like real Kafka),
 * or `KAFKA_BROKERS=host:port npx tsx bench/kafka-broker.ts` to measure a real cluster with the same client code.
 * Prints one JSON line per figure on stdout (median of 3 runs); progress goes to stderr.
 *
 * Baselines (records/s, 100-byte JSON values, 4 partitions, 2 vCPU, Node 20) are the midpoints of the ranges
 * measured against real Kafka 2.1.1 on this machine kind, from issue 4 ("Figures"):
 *   kafkajs producer, sends of 1,000 messages with a few in flight ........ 120,000
 *   kafkajs consumer eachBatch, counting only ............................. 820,000
 *   kafkajs consumer eachBatch + JSON.parse of every value ................ 410,000
 * The bar is ratio ≥ 0.8: below it, a benchmark run on the devstack measures the broker, not Sluice.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Kafka, logLevel } from 'kafkajs'
import type { Admin, Message } from 'kafkajs'
import { spawnBrokerProcess } from './support/spawn-broker.ts'
import { benchEventValue } from './support/bench-events.ts'

const PARTITIONS = 4
const VALUE_BYTES = 100
const SEND_SIZE = 1_000
const SENDS_IN_FLIGHT = 4
const PRODUCE_RECORDS = 200_000
const CONSUME_RECORDS = 400_000
const RUNS = 3

const BASELINES = {
  produce: 120_000,
  eachBatch: 820_000,
  eachBatchJson: 410_000,
} as const

const log = (text: string): void => {
  process.stderr.write(`[kafka-broker] ${text}\n`)
}

function figure(name: string, value: number, baseline: number): void {
  const rounded = Math.round(value)
  process.stdout.write(
    `${JSON.stringify({ name, value: rounded, unit: 'records/s', baseline, ratio: Number((rounded / baseline).toFixed(3)) })}\n`,
  )
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Messages grouped by send, built before timing so only kafkajs and the broker are measured. */
function sends(records: number): Message[][] {
  const out: Message[][] = []
  for (let start = 0; start < records; start += SEND_SIZE) {
    out.push(Array.from({ length: Math.min(SEND_SIZE, records - start) }, (_, j) => ({ value: benchEventValue(start + j, VALUE_BYTES) })))
  }
  return out
}

/** CPU time (ms) used so far by another process, from /proc (Linux); undefined elsewhere. */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return undefined
  }
}

/**
 * Runs `fn` and reports on stderr how busy the broker process and this (client) process were meanwhile: a broker
 * well below 100 % while the client is near it means the figure measures kafkajs, not the broker.
 */
async function withCpu<T>(label: string, brokerPid: number | undefined, fn: () => Promise<T>): Promise<T> {
  const wallStart = performance.now()
  const clientStart = process.cpuUsage()
  const brokerStart = processCpuMs(brokerPid)
  const result = await fn()
  const wall = performance.now() - wallStart
  const client = process.cpuUsage(clientStart)
  const brokerEnd = processCpuMs(brokerPid)
  const pct = (ms: number): string => `${Math.round((100 * ms) / wall)}%`
  const broker = brokerStart === undefined || brokerEnd === undefined ? 'n/a' : pct(brokerEnd - brokerStart)
  log(`${label}: ${Math.round(Number(result))} records/s (cpu: client ${pct((client.user + client.system) / 1000)}, broker ${broker})`)
  return result
}

async function createTopic(admin: Admin, created: string[]): Promise<string> {
  const topic = `bench-${randomUUID()}`
  created.push(topic)
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true })
  return topic
}

/** kafkajs producer, sends of SEND_SIZE messages, SENDS_IN_FLIGHT of them outstanding at any time. */
async function produce(kafka: Kafka, topic: string, batches: Message[][]): Promise<number> {
  const producer = kafka.producer()
  await producer.connect()
  try {
    // Warm-up: connections and metadata, outside the timing.
    await producer.send({ topic, messages: [{ value: benchEventValue(0, VALUE_BYTES) }] })
    let next = 0
    const started = performance.now()
    const lane = async (): Promise<void> => {
      while (next < batches.length) {
        const messages = batches[next++]!
        await producer.send({ topic, messages })
      }
    }
    await Promise.all(Array.from({ length: SENDS_IN_FLIGHT }, lane))
    const seconds = (performance.now() - started) / 1000
    return batches.reduce((n, b) => n + b.length, 0) / seconds
  } finally {
    await producer.disconnect()
  }
}

/** A fresh group reads `records` from the beginning; timed from the group join to the last record. */
async function consume(kafka: Kafka, topic: string, records: number, parse: boolean): Promise<number> {
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}` })
  await consumer.connect()
  try {
    let joinedAt = 0
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joinedAt = performance.now()
    })
    let count = 0
    let parsed = 0
    let done!: (at: number) => void
    const finished = new Promise<number>((resolve) => {
      done = resolve
    })
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachBatch: async ({ batch }) => {
        if (parse) {
          for (const message of batch.messages) if (JSON.parse(message.value!.toString()).id >= 0) parsed++
        }
        count += batch.messages.length
        if (count >= records) done(performance.now())
      },
    })
    const endedAt = await finished
    if (parse && parsed < records) throw new Error(`parsed ${parsed} of ${records} values`)
    return records / ((endedAt - joinedAt) / 1000)
  } finally {
    await consumer.disconnect()
  }
}

async function main(): Promise<void> {
  const external = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean)
  const broker = external.length > 0 ? undefined : await spawnBrokerProcess({ partitions: PARTITIONS })
  const brokers = broker?.brokers ?? external
  log(`measuring ${broker ? 'the devstack broker (child process)' : 'KAFKA_BROKERS'} at ${brokers.join(',')}`)

  const kafka = new Kafka({
    clientId: 'sluice-bench',
    brokers,
    logLevel: process.env.DEBUG_KAFKA ? logLevel.DEBUG : logLevel.NOTHING,
  })
  const admin = kafka.admin()
  await admin.connect()
  const created: string[] = []
  try {
    const produceBatches = sends(PRODUCE_RECORDS)
    const produceRates: number[] = []
    for (let run = 0; run < RUNS; run++) {
      const topic = await createTopic(admin, created)
      produceRates.push(await withCpu(`produce run ${run + 1}`, broker?.pid, () => produce(kafka, topic, produceBatches)))
    }
    figure('kafka-broker/produce-1000', median(produceRates), BASELINES.produce)

    // One filled topic read by a fresh group per run. Filled with the same client, so no figure depends on it.
    const topic = await createTopic(admin, created)
    const fillBatches = sends(CONSUME_RECORDS)
    await produce(kafka, topic, fillBatches)
    const count: number[] = []
    const json: number[] = []
    for (let run = 0; run < RUNS; run++) {
      // + 1: the producer's warm-up record
      count.push(await withCpu(`eachBatch run ${run + 1}`, broker?.pid, () => consume(kafka, topic, CONSUME_RECORDS + 1, false)))
      json.push(
        await withCpu(`eachBatch + JSON.parse run ${run + 1}`, broker?.pid, () => consume(kafka, topic, CONSUME_RECORDS + 1, true)),
      )
    }
    figure('kafka-broker/consume-eachbatch', median(count), BASELINES.eachBatch)
    figure('kafka-broker/consume-eachbatch-json', median(json), BASELINES.eachBatchJson)
  } finally {
    if (external.length > 0 && created.length > 0) await admin.deleteTopics({ topics: created }).catch(() => undefined)
    await admin.disconnect()
    await broker?.stop()
  }
}

await main()

// Log compaction as users of compacted topics rely on it: reading a compacted partition from its start gives, in
// offset order, every record exactly as it was written at its offset, and at least the latest value of every key;
// once segments roll and the cleaner ran, superseded records, deleted keys (after delete.retention.ms) and aborted
// transactions are gone, and keyless records are refused. Runs unchanged against a real broker (KAFKA_BROKERS), where
// the cleaner looks for work every 15 s: the waits allow for that.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { CompressionTypes, type Kafka, type Producer } from 'kafkajs'
import { scanPartition } from '../../../runtime/cluster/kafka/partition-scan.ts'
import { devstackOnly, kafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

// Segments roll by time (a batch stamped more than segment.ms after its segment's first one starts a new segment);
// segment.bytes stays at its default, whose minimum newer brokers raised.
const COMPACTED = {
  'cleanup.policy': 'compact',
  'segment.ms': '100',
  'min.cleanable.dirty.ratio': '0.01',
  'delete.retention.ms': '100',
}
const CLUSTER = { logCleanerBackoffMs: 50 }
const CLEANED_WITHIN_MS = 120_000

interface Written {
  key: string | null
  value: string | null
}
type Log = Map<number, Written>
interface Scanned extends Written {
  offset: number
}

async function send(producer: Producer | { send: Producer['send'] }, topic: string, log: Log, messages: Written[], compression = CompressionTypes.None): Promise<void> {
  const [meta] = await producer.send({ topic, messages, compression })
  const base = Number(meta!.baseOffset)
  messages.forEach((m, i) => log.set(base + i, m))
}

async function scan(kafka: Kafka, topic: string): Promise<Scanned[]> {
  const out: Scanned[] = []
  await scanPartition(kafka, topic, 0, (r) => out.push({ offset: r.offset, key: r.key, value: r.value === null ? null : r.value.toString() }))
  return out
}

/** What is wrong with a read of the partition from its start, or undefined: offsets ascend, each record is as written. */
function violation(log: Log, scanned: readonly Scanned[]): string | undefined {
  let previous = -1
  for (const r of scanned) {
    if (r.offset <= previous) return `offset ${r.offset} read after ${previous}`
    previous = r.offset
    const written = log.get(r.offset)
    if (written?.key !== r.key || written.value !== r.value) return `offset ${r.offset} reads ${JSON.stringify(r)}, written ${JSON.stringify(written)}`
  }
  return undefined
}

/** The non-filler records of a read, by key: each key's values in offset order. */
function valuesByKey(scanned: readonly Scanned[]): Map<string | null, Array<string | null>> {
  const out = new Map<string | null, Array<string | null>>()
  for (const r of scanned) if (r.key !== 'filler') out.set(r.key, [...(out.get(r.key) ?? []), r.value])
  return out
}

/**
 * Writes a filler record (rolling a segment, and giving the cleaner dirty bytes) and reads the partition until
 * `compacted` holds for the read; every read is checked against what was written.
 */
async function untilCompacted(kafka: Kafka, producer: Producer, topic: string, log: Log, compacted: (byKey: Map<string | null, Array<string | null>>) => boolean, what: string): Promise<Scanned[]> {
  let last: Scanned[] = []
  const result = await waitFor(
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 150))
      await send(producer, topic, log, [{ key: 'filler', value: String(log.size) }])
      last = await scan(kafka, topic)
      const wrong = violation(log, last)
      if (wrong !== undefined) return { wrong }
      return compacted(valuesByKey(last)) ? { scanned: last } : false
    },
    { timeoutMs: CLEANED_WITHIN_MS, intervalMs: 1, message: what, describe: () => JSON.stringify([...valuesByKey(last)]) },
  )
  assert.equal(result.wrong, undefined)
  return result.scanned!
}

const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => `k${i}`)
const onlyLatest = (expected: Map<string, string>) => (byKey: Map<string | null, Array<string | null>>): boolean =>
  byKey.size === expected.size && [...expected].every(([k, v]) => byKey.get(k)?.length === 1 && byKey.get(k)![0] === v)

test('a compacted partition keeps the latest value of every key, at its offset, once its segments roll', async (t) => {
  const cluster = await kafkaCluster(t, CLUSTER)
  const topic = await cluster.createTopic({ configs: COMPACTED })
  const producer = await cluster.producer()
  const log: Log = new Map()
  // Round r writes k<r>…k9, every other round gzipped: each batch but the last keeps its first record only, so the
  // cleaner removes records from the end of batches as well as whole batches, and recompresses.
  const latest = (k: string): string => `${k}-v${Math.min(Number(k.slice(1)), 4)}`
  for (let round = 0; round < 5; round++) {
    const messages = keys(10).slice(round).map((key) => ({ key, value: `${key}-v${round}` }))
    await send(producer, topic, log, messages, round % 2 === 1 ? CompressionTypes.GZIP : CompressionTypes.None)
  }
  const before = await scan(cluster.kafka(), topic)
  assert.equal(violation(log, before), undefined)
  assert.ok(keys(10).every((k) => valuesByKey(before).get(k)?.at(-1) === latest(k)), 'every key reads its latest value')

  const expected = new Map(keys(10).map((k) => [k, latest(k)]))
  await untilCompacted(cluster.kafka(), producer, topic, log, onlyLatest(expected), 'the superseded values to be cleaned away')
})

test('a tombstone removes its key once it has been in the cleaned log for delete.retention.ms', async (t) => {
  const cluster = await kafkaCluster(t, CLUSTER)
  const topic = await cluster.createTopic({ configs: COMPACTED })
  const producer = await cluster.producer()
  const log: Log = new Map()
  await send(producer, topic, log, keys(5).map((key) => ({ key, value: `${key}-v0` })))
  await send(producer, topic, log, keys(5).map((key) => ({ key, value: `${key}-v1` })))
  await send(producer, topic, log, [{ key: 'k2', value: null }])

  const expected = new Map(keys(5).filter((k) => k !== 'k2').map((k) => [k, `${k}-v1`]))
  await untilCompacted(cluster.kafka(), producer, topic, log, onlyLatest(expected), 'the deleted key and its tombstone to be cleaned away')
})

test('aborted transactions are cleaned away and never hide the committed value they followed', async (t) => {
  const cluster = await kafkaCluster(t, CLUSTER)
  const topic = await cluster.createTopic({ configs: COMPACTED })
  const producer = await cluster.producer()
  const transactional = await cluster.producer({ transactionalId: cluster.uniqueName('txn'), idempotent: true, maxInFlightRequests: 1 })
  const log: Log = new Map()
  for (const [value, commit] of [['c1', true], ['c2', true], ['aborted', false]] as const) {
    const txn = await transactional.transaction()
    await send(txn, topic, log, keys(5).map((key) => ({ key, value: `${key}-${value}` })))
    await (commit ? txn.commit() : txn.abort())
  }

  // The scan does not filter aborted records (as a read_uncommitted reader would not): once cleaned, none are left.
  const expected = new Map(keys(5).map((k) => [k, `${k}-c2`]))
  await untilCompacted(cluster.kafka(), producer, topic, log, onlyLatest(expected), 'the aborted and superseded records to be cleaned away')
})

test('a compacted topic refuses a record without a key, and keeps taking keyed ones', async (t) => {
  const cluster = await kafkaCluster(t, CLUSTER)
  const topic = await cluster.createTopic({ configs: COMPACTED })
  const producer = await cluster.producer({ retry: { retries: 0 } })
  const refused = await producer.send({ topic, messages: [{ key: null, value: 'no key' }] }).then(
    () => undefined,
    (err: unknown) => err,
  )
  const types: unknown[] = []
  for (let e = refused as { type?: unknown; cause?: unknown; originalError?: unknown } | undefined; e !== undefined && e !== null; e = (e.cause ?? e.originalError) as typeof e) types.push(e.type)
  // Kafka 2.1 answers CORRUPT_MESSAGE; brokers since 2.5 have INVALID_RECORD for it.
  assert.ok(types.includes('CORRUPT_MESSAGE') || types.includes('INVALID_RECORD'), `refused with ${String(refused)} (${types.join(', ')})`)

  const log: Log = new Map()
  await send(producer, topic, log, [{ key: 'k', value: 'v' }])
  const scanned = await scan(cluster.kafka(), topic)
  assert.deepEqual(scanned.map((r) => [r.key, r.value]), [['k', 'v']])
})

test('a cleaned log is what the broker reads back after a restart', { skip: devstackOnly('restarts the broker and reads its log file') }, async (t) => {
  const cluster = await kafkaCluster(t, { ...CLUSTER, persistent: true })
  const topic = await cluster.createTopic({ configs: COMPACTED })
  const producer = await cluster.producer()
  const log: Log = new Map()
  for (let round = 0; round < 3; round++) await send(producer, topic, log, keys(4).map((key) => ({ key, value: `${key}-v${round}` })))
  const expected = new Map(keys(4).map((k) => [k, `${k}-v2`]))
  const cleaned = await untilCompacted(cluster.kafka(), producer, topic, log, onlyLatest(expected), 'the superseded values to be cleaned away')

  // The file holds the cleaned log, not the log as written (the cleaner would redo the work after a restart anyway).
  const { loadSegment } = await import('../../../devstack/kafka/persistence/segment-file.ts')
  const { recordTimestampsAndKeys } = await import('../../../devstack/kafka/protocol/record-batch.ts')
  const inFile = loadSegment(join(cluster.dataDir!, 'logs', topic, '0.log')).flatMap((b) => recordTimestampsAndKeys(b.buf).map((r) => r.key?.toString()))
  for (const k of keys(4)) assert.equal(inFile.filter((key) => key === k).length, 1, `${k} once in the log file`)

  await cluster.restart()
  const after = await scan(cluster.kafka(), topic)
  assert.equal(violation(log, after), undefined)
  const offsetsOf = (scanned: Scanned[]): number[] => scanned.filter((r) => r.key !== 'filler').map((r) => r.offset)
  assert.deepEqual(offsetsOf(after), offsetsOf(cleaned))
  await send(producer, topic, log, [{ key: 'k0', value: 'k0-v3' }])
  const last = [...log.keys()].at(-1)!
  assert.ok(last > Math.max(...cleaned.map((r) => r.offset)), 'offsets go on from where the log ended')
  assert.deepEqual((await scan(cluster.kafka(), topic)).at(-1), { offset: last, key: 'k0', value: 'k0-v3' })
})

// The log cleaner's rules on hand-built batches: what a pass keeps, what it drops, and what it leaves whole.
import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import { test } from 'node:test'
import { cleanLog, dueForCleaning, type CleanerInput } from '../../../../devstack/kafka/log/log-cleaner.ts'
import { LogSegments } from '../../../../devstack/kafka/log/log-segments.ts'
import { crc32c } from '../../../../devstack/kafka/protocol/crc32c.ts'
import { batchCrcValid, readBatchHeader, recordTimestampsAndKeys, setBaseOffset } from '../../../../devstack/kafka/protocol/record-batch.ts'
import { varint } from './support/varint.ts'

/** A magic-2 batch of keyed records (value null: a tombstone), laid out as a producer does; codec 1 gzip, 2 snappy. */
function keyedBatch(base: number, records: Array<[string, string | null]>, opts: { codec?: number; producerId?: number } = {}): Buffer {
  const encoded = records.map(([k, v], i) => {
    const key = Buffer.from(k)
    const value = v === null ? null : Buffer.from(v)
    const body = Buffer.from([0, ...varint(0), ...varint(i), ...varint(key.length), ...key, ...varint(value === null ? -1 : value.length), ...(value ?? []), ...varint(0)])
    return Buffer.concat([Buffer.from(varint(body.length)), body])
  })
  let payload = Buffer.concat(encoded)
  if (opts.codec === 1) payload = gzipSync(payload)
  const header = Buffer.alloc(61)
  header.writeInt32BE(61 - 12 + payload.length, 8)
  header.writeInt8(2, 16)
  header.writeInt16BE(opts.codec ?? 0, 21)
  header.writeInt32BE(records.length - 1, 23)
  header.writeBigInt64BE(1_000n, 27)
  header.writeBigInt64BE(1_000n, 35)
  header.writeBigInt64BE(BigInt(opts.producerId ?? -1), 43)
  header.writeInt16BE(opts.producerId === undefined ? -1 : 0, 51)
  header.writeInt32BE(opts.producerId === undefined ? -1 : base, 53)
  header.writeInt32BE(records.length, 57)
  const batch = Buffer.concat([header, payload])
  batch.writeUInt32BE(crc32c(batch, 21), 17)
  setBaseOffset(batch, base)
  return batch
}

/** A cleaner input over `batches` (one segment each), everything below the last batch cleanable and dirty. */
function inputOf(batches: Buffer[]): CleanerInput {
  const segments = new LogSegments()
  const baseOffsets = batches.map((b) => Number(b.readBigInt64BE(0)))
  batches.forEach((b, i) => segments.append(baseOffsets[i]!, b.length, 1_000 + 2_000 * i, 1_000 + 2_000 * i, { segmentBytes: 1 << 30, segmentMs: 1 }))
  return {
    batches,
    baseOffsets,
    firstDirtyOffset: 0,
    firstUncleanableOffset: baseOffsets.at(-1)!,
    segmentOf: (o) => segments.segmentOf(o),
    segments: segments.all(),
    aborted: [],
    policy: { minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0, deleteRetentionMs: 0 },
  }
}

const keysOf = (batch: Buffer): Array<string | undefined> => recordTimestampsAndKeys(batch).map((r) => r.key?.toString())

test('a partly superseded batch keeps its base and last offset and a valid CRC; gzip batches are recompressed', () => {
  for (const codec of [0, 1]) {
    const first = keyedBatch(0, [['a', '1'], ['b', '1'], ['c', '1']], { codec })
    const second = keyedBatch(3, [['b', '2'], ['c', '2']])
    const active = keyedBatch(5, [['z', '1']])
    const out = cleanLog(inputOf([first, second, active]))
    assert.equal(out.replaced, 2)
    assert.deepEqual(out.baseOffsets, [0, 3])
    const kept = out.batches[0]!
    assert.deepEqual(keysOf(kept), ['a'])
    assert.equal(readBatchHeader(kept)!.lastOffsetDelta, 2, 'the last offset of the batch as written')
    assert.equal(readBatchHeader(kept)!.attributes & 7, codec)
    assert.ok(batchCrcValid(kept))
    assert.equal(out.batches[1], second, 'a batch with nothing superseded is the same buffer')
    assert.equal(out.recordsRemoved, 2)
  }
})

test('a batch in a codec the devstack cannot read is kept whole, and its keys do not supersede older records', () => {
  const older = keyedBatch(0, [['a', '1']])
  const snappy = keyedBatch(1, [['a', '2']], { codec: 2 }) // not actually snappy-compressed: it is never read
  const active = keyedBatch(2, [['z', '1']])
  const out = cleanLog(inputOf([older, snappy, active]))
  assert.deepEqual(out.batches, [older, snappy])
})

test('a producer\'s last batch stays whole when cleaning would empty it; its earlier batches may go', () => {
  const early = keyedBatch(0, [['a', '1']], { producerId: 7 })
  const last = keyedBatch(1, [['a', '2']], { producerId: 7 })
  const newer = keyedBatch(2, [['a', '3']])
  const active = keyedBatch(3, [['z', '1']])
  const out = cleanLog(inputOf([early, last, newer, active]))
  assert.deepEqual(out.baseOffsets, [1, 2])
  assert.equal(out.batches[0], last)
})

test('a tombstone survives until its segment is older than the horizon of the last cleaned segment', () => {
  const value = keyedBatch(0, [['a', '1']])
  const tombstone = keyedBatch(1, [['a', null]])
  const active = keyedBatch(2, [['z', '1']])
  const first = cleanLog(inputOf([value, tombstone, active]))
  assert.deepEqual(first.batches.map(keysOf), [['a']], 'first pass: no cleaned segment yet, so no horizon')
  assert.equal(first.baseOffsets[0], 1)
  const second = cleanLog({ ...inputOf([tombstone, keyedBatch(2, [['y', '1']]), keyedBatch(3, [['z', '1']])]), firstDirtyOffset: 2 })
  assert.deepEqual(second.baseOffsets, [2], 'second pass: the tombstone is below the horizon and goes')
})

test('a partition is due once its dirty bytes are more than min.cleanable.dirty.ratio of the cleanable log', () => {
  const batches = [keyedBatch(0, [['a', '1']]), keyedBatch(1, [['a', '2']]), keyedBatch(2, [['a', '3']])]
  const input = inputOf(batches)
  assert.equal(dueForCleaning({ ...input, firstDirtyOffset: 0 }), true)
  assert.equal(dueForCleaning({ ...input, firstDirtyOffset: 1 }), false, 'half dirty is not more than 0.5')
  assert.equal(dueForCleaning({ ...input, firstDirtyOffset: 2 }), false, 'nothing dirty')
})

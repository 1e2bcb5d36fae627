import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import { test } from 'node:test'
import { crc32c } from '../../../../devstack/kafka/protocol/crc32c.ts'
import {
  ATTR_CONTROL,
  ATTR_TRANSACTIONAL,
  baseOffsetOf,
  batchCrcValid,
  controlTypeOf,
  encodeControlBatch,
  readBatchHeader,
  recordTimestampsAndKeys,
  setBaseOffset,
} from '../../../../devstack/kafka/protocol/record-batch.ts'
import { varint } from './support/varint.ts'

test('crc32c matches the published check value and is independent of chunk alignment', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283)
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa) // RFC 3720 B.4: 32 bytes of zeros
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff))
  const padded = Buffer.concat([Buffer.from([1, 2, 3]), data])
  assert.equal(crc32c(padded, 3), crc32c(data))
})

/** A magic-2 batch built independently of the broker's encoder, the way a producer lays it out. */
function producerBatch(opts: { values: string[]; firstTimestamp: number; gzip?: boolean }): Buffer {
  const records = opts.values.map((v, i) => {
    const value = Buffer.from(v)
    const body = Buffer.from([
      0,
      ...varint(i * 10), // timestampDelta
      ...varint(i), // offsetDelta
      ...varint(-1), // null key
      ...varint(value.length),
      ...value,
      ...varint(0),
    ])
    return Buffer.concat([Buffer.from(varint(body.length)), body])
  })
  let recordBytes = Buffer.concat(records)
  if (opts.gzip) recordBytes = gzipSync(recordBytes)
  const header = Buffer.alloc(61)
  header.writeInt32BE(61 - 12 + recordBytes.length, 8)
  header.writeInt8(2, 16)
  header.writeInt16BE(opts.gzip ? 1 : 0, 21)
  header.writeInt32BE(opts.values.length - 1, 23)
  header.writeBigInt64BE(BigInt(opts.firstTimestamp), 27)
  header.writeBigInt64BE(BigInt(opts.firstTimestamp + (opts.values.length - 1) * 10), 35)
  header.writeBigInt64BE(-1n, 43)
  header.writeInt16BE(-1, 51)
  header.writeInt32BE(-1, 53)
  header.writeInt32BE(opts.values.length, 57)
  const batch = Buffer.concat([header, recordBytes])
  batch.writeUInt32BE(crc32c(batch, 21), 17)
  return batch
}

test('a producer batch is read without decoding records, and rewriting baseOffset keeps its CRC valid', () => {
  const batch = producerBatch({ values: ['a', 'bb', 'ccc'], firstTimestamp: 1_700_000_000_000 })
  const header = readBatchHeader(batch)!
  assert.equal(header.size, batch.length)
  assert.equal(header.recordCount, 3)
  assert.equal(header.lastOffsetDelta, 2)
  assert.equal(header.maxTimestamp, 1_700_000_000_020)
  assert.equal(header.producerId, -1)
  setBaseOffset(batch, 2 ** 40 + 5)
  assert.equal(baseOffsetOf(batch), 2 ** 40 + 5)
  assert.ok(batchCrcValid(batch), 'baseOffset is outside the CRC')
  batch[batch.length - 1]! ^= 0xff
  assert.ok(!batchCrcValid(batch), 'a flipped record byte is detected')
})

test('a torn batch reads as incomplete, not as garbage', () => {
  const batch = producerBatch({ values: ['x'], firstTimestamp: 0 })
  assert.equal(readBatchHeader(batch.subarray(0, batch.length - 1)), undefined)
  assert.equal(readBatchHeader(batch.subarray(0, 20)), undefined)
})

test('record timestamps are found in plain and gzip batches (ListOffsets by timestamp)', () => {
  for (const gzip of [false, true]) {
    const batch = producerBatch({ values: ['a', 'b', 'c'], firstTimestamp: 5_000, gzip })
    assert.deepEqual(
      recordTimestampsAndKeys(batch).map((r) => [r.offsetDelta, r.timestamp]),
      [
        [0, 5_000],
        [1, 5_010],
        [2, 5_020],
      ],
      `gzip=${gzip}`,
    )
  }
})

test('control batches carry the marker type, the producer and a valid CRC', () => {
  for (const [type, name] of [
    [0, 'abort'],
    [1, 'commit'],
  ] as const) {
    const marker = encodeControlBatch({ baseOffset: 42, producerId: 7, producerEpoch: 3, type, timestamp: 1234 })
    const header = readBatchHeader(marker)!
    assert.equal(header.size, marker.length)
    assert.equal(header.attributes, ATTR_TRANSACTIONAL | ATTR_CONTROL)
    assert.equal(header.producerId, 7)
    assert.equal(header.producerEpoch, 3)
    assert.equal(header.baseSequence, -1)
    assert.equal(header.recordCount, 1)
    assert.equal(baseOffsetOf(marker), 42)
    assert.ok(batchCrcValid(marker), `${name} marker CRC`)
    assert.equal(controlTypeOf(marker), type)
  }
})

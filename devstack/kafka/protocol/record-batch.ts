import { gunzipSync } from 'node:zlib';
import { crc32c } from './crc32c.ts';
import { ProtocolError } from './reader.ts';

/**
 * Record batches, magic 2 (KIP-98). The broker stores batches as the bytes it received and only rewrites the first
 * eight bytes (baseOffset), which the CRC does not cover.
 *
 * RecordBatch =>
 *   baseOffset           int64   (offset 0)
 *   batchLength          int32   (offset 8; bytes after this field)
 *   partitionLeaderEpoch int32   (offset 12)
 *   magic                int8    (offset 16) = 2
 *   crc                  uint32  (offset 17; CRC-32C of attributes..end)
 *   attributes           int16   (offset 21; bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control)
 *   lastOffsetDelta      int32   (offset 23)
 *   firstTimestamp       int64   (offset 27)
 *   maxTimestamp         int64   (offset 35)
 *   producerId           int64   (offset 43)
 *   producerEpoch        int16   (offset 51)
 *   baseSequence         int32   (offset 53)
 *   recordCount          int32   (offset 57)
 *   records              (offset 61; compressed as one block when codec != 0)
 *
 * Record => length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
 *           key varint-bytes (-1 = null), value varint-bytes, headerCount varint, [headerKey, headerValue]
 */
export const BATCH_HEADER_SIZE = 61;
/** Bytes before the part counted by batchLength. */
export const LOG_OVERHEAD = 12;
/** Where the part of a batch its CRC covers starts (attributes). */
export const CRC_START = 21;

export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;

export const ControlType = { ABORT: 0, COMMIT: 1 } as const;

const TWO_POW_32 = 4294967296;

function int64At(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

function writeInt64At(buf: Buffer, v: number, at: number): void {
  const hi = Math.floor(v / TWO_POW_32);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(v - hi * TWO_POW_32, at + 4);
}

/** The header fields the broker needs; records themselves are never decoded on the produce or fetch path. */
export interface BatchHeader {
  /** Total size of the batch including baseOffset and batchLength. */
  size: number;
  attributes: number;
  lastOffsetDelta: number;
  firstTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/**
 * Reads the header of the batch starting at `at`. Returns undefined when fewer bytes than a whole batch remain
 * (a torn tail in a log file). Throws {@link ProtocolError} when the bytes are not a magic-2 batch.
 */
export function readBatchHeader(buf: Buffer, at = 0): BatchHeader | undefined {
  if (buf.length - at < BATCH_HEADER_SIZE) return undefined;
  const batchLength = buf.readInt32BE(at + 8);
  const size = LOG_OVERHEAD + batchLength;
  if (batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD) throw new ProtocolError(`record batch length ${batchLength} too small`);
  if (buf.length - at < size) return undefined;
  const magic = buf.readInt8(at + 16);
  if (magic !== 2) throw new ProtocolError(`record batch magic ${magic} is not supported (only magic 2)`);
  return {
    size,
    attributes: buf.readInt16BE(at + 21),
    lastOffsetDelta: buf.readInt32BE(at + 23),
    firstTimestamp: int64At(buf, at + 27),
    maxTimestamp: int64At(buf, at + 35),
    producerId: int64At(buf, at + 43),
    producerEpoch: buf.readInt16BE(at + 51),
    baseSequence: buf.readInt32BE(at + 53),
    recordCount: buf.readInt32BE(at + 57),
  };
}

/** True when the stored CRC matches the batch contents. */
export function batchCrcValid(batch: Buffer): boolean {
  return batch.readUInt32BE(17) === crc32c(batch, CRC_START, batch.length);
}

export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  writeInt64At(batch, baseOffset, 0);
}

export function baseOffsetOf(batch: Buffer): number {
  return int64At(batch, 0);
}

/**
 * A control batch (transaction marker) as the coordinator writes it on EndTxn: attributes transactional|control,
 * baseSequence -1, one record with key `int16 version=0, int16 type` and value `int16 version=0,
 * int32 coordinatorEpoch`.
 */
export function encodeControlBatch(opts: {
  baseOffset: number;
  producerId: number;
  producerEpoch: number;
  type: number;
  timestamp: number;
  coordinatorEpoch?: number;
}): Buffer {
  // Record body: attributes(1) timestampDelta(1: varlong 0) offsetDelta(1: varint 0)
  // keyLength(1: varint 4) key(4) valueLength(1: varint 6) value(6) headerCount(1: varint 0) = 16 bytes.
  const recordBody = 16;
  const size = BATCH_HEADER_SIZE + 1 + recordBody; // 1 byte for the record's varint length (16 -> zigzag 32)
  const b = Buffer.alloc(size);
  writeInt64At(b, opts.baseOffset, 0);
  b.writeInt32BE(size - LOG_OVERHEAD, 8);
  b.writeInt32BE(0, 12);
  b.writeInt8(2, 16);
  b.writeInt16BE(ATTR_TRANSACTIONAL | ATTR_CONTROL, 21);
  b.writeInt32BE(0, 23);
  writeInt64At(b, opts.timestamp, 27);
  writeInt64At(b, opts.timestamp, 35);
  writeInt64At(b, opts.producerId, 43);
  b.writeInt16BE(opts.producerEpoch, 51);
  b.writeInt32BE(-1, 53);
  b.writeInt32BE(1, 57);
  let p = BATCH_HEADER_SIZE;
  b[p++] = recordBody << 1; // zigzag varint
  b[p++] = 0; // attributes
  b[p++] = 0; // timestampDelta
  b[p++] = 0; // offsetDelta
  b[p++] = 4 << 1; // key length
  b.writeInt16BE(0, p);
  b.writeInt16BE(opts.type, p + 2);
  p += 4;
  b[p++] = 6 << 1; // value length
  b.writeInt16BE(0, p);
  b.writeInt32BE(opts.coordinatorEpoch ?? 0, p + 2);
  p += 6;
  b[p++] = 0; // header count
  b.writeUInt32BE(crc32c(b, CRC_START, size), 17);
  return b;
}

/** The control type (0 abort, 1 commit) of a control batch, or undefined when it is not readable. */
export function controlTypeOf(batch: Buffer): number | undefined {
  const records = recordTimestampsAndKeys(batch);
  const key = records[0]?.key;
  if (key === undefined || key === null || key.length < 4) return undefined;
  return key.readInt16BE(2);
}

interface DecodedRecordMeta {
  offsetDelta: number;
  timestamp: number;
  key: Buffer | null;
}

/** Reads a zigzag varint (varlong) at `pos.at` and advances it. */
export function readVarint(buf: Buffer, pos: { at: number }): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos.at >= buf.length) throw new ProtocolError('varint runs past the end of the records');
    const byte = buf[pos.at++] as number;
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
    if (shift > 63) throw new ProtocolError('varint too long');
  }
  // zigzag decode without 32-bit overflow
  return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
}

/**
 * Decodes just offsets, timestamps and keys of a batch's records. Off the hot path: only ListOffsets-by-timestamp
 * and log recovery use it. gzip is decoded with zlib; other codecs (snappy, lz4, zstd) are not available without
 * extra libraries, so such batches return no records.
 */
export function recordTimestampsAndKeys(batch: Buffer): DecodedRecordMeta[] {
  const header = readBatchHeader(batch);
  if (header === undefined) return [];
  const codec = header.attributes & 0x07;
  let body = batch.subarray(BATCH_HEADER_SIZE, header.size);
  if (codec === 1) body = gunzipSync(body);
  else if (codec !== 0) return [];
  const out: DecodedRecordMeta[] = [];
  const pos = { at: 0 };
  for (let i = 0; i < header.recordCount && pos.at < body.length; i++) {
    const len = readVarint(body, pos);
    const end = pos.at + len;
    pos.at += 1; // attributes
    const tsDelta = readVarint(body, pos);
    const offsetDelta = readVarint(body, pos);
    const keyLen = readVarint(body, pos);
    const key = keyLen < 0 ? null : body.subarray(pos.at, pos.at + keyLen);
    out.push({ offsetDelta, timestamp: header.firstTimestamp + tsDelta, key });
    pos.at = end;
  }
  return out;
}

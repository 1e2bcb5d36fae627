// Shared harness for the RecordSetReader tests: kafkajs's encoder and decoder, batch specs, random generators, read and assert helpers.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { RecordSetReader } from '../../../../../connectors/kafka/source/fetch/record-set-reader.ts';

// ---- kafkajs internals ---------------------------------------------------------------------------------------------

export interface KafkajsEncoder {
  readonly buffer: Buffer;
  size(): number;
  writeInt8(value: number): KafkajsEncoder;
  writeInt16(value: number): KafkajsEncoder;
  writeInt32(value: number): KafkajsEncoder;
  writeInt64(value: number): KafkajsEncoder;
  writeVarInt(value: number): KafkajsEncoder;
  writeVarLong(value: number): KafkajsEncoder;
  writeVarIntBytes(value: Buffer | null): KafkajsEncoder;
  writeVarIntString(value: string): KafkajsEncoder;
  writeBuffer(value: Buffer): KafkajsEncoder;
  writeEncoder(value: KafkajsEncoder): KafkajsEncoder;
}

export interface KafkajsMessage {
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, Buffer | null | (Buffer | null)[]>;
  readonly magicByte?: number;
}

interface Codec {
  compress(encoder: KafkajsEncoder): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

const require = createRequire(import.meta.url);
export const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => KafkajsEncoder;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (data: Buffer) => object;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch(args: {
    compression: number;
    firstOffset: number;
    firstTimestamp: number;
    maxTimestamp: number;
    lastOffsetDelta: number;
    producerId: number;
    producerEpoch: number;
    firstSequence: number;
    transactional: boolean;
    records: KafkajsEncoder[];
  }): Promise<KafkajsEncoder>;
};
export const KafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (args: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
}) => KafkajsEncoder;
export const { Types: Compression } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { None: 0; GZIP: 1; Snappy: 2; LZ4: 3; ZSTD: 4 } };
const decodeMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js') as (decoder: object) => Promise<KafkajsMessage[]>;
export const LegacyMessage = {
  0: require('kafkajs/src/protocol/message/v0/index.js') as (args: { key: Buffer | null; value: Buffer | null }) => KafkajsEncoder,
  1: require('kafkajs/src/protocol/message/v1/index.js') as (args: { key: Buffer | null; value: Buffer | null; timestamp: number }) => KafkajsEncoder,
};
export const { CompressionCodecs } = require('kafkajs') as { CompressionCodecs: Record<number, (() => Codec) | undefined> };

/** kafkajs's decode of a RECORDS field, as its Fetch v4+ response decoder sees it (int32 size, then the bytes). */
export async function kafkajsDecode(set: Buffer): Promise<KafkajsMessage[]> {
  const sized = Buffer.alloc(4 + set.length);
  sized.writeInt32BE(set.length, 0);
  set.copy(sized, 4);
  return decodeMessages(new Decoder(sized));
}

// ---- batch layout (https://kafka.apache.org/documentation/#recordbatch) ----------------------------------------------

export const AT = { length: 8, magic: 16, attributes: 21, lastOffsetDelta: 23, count: 57, records: 61 } as const;
export const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL = 0x10;
export const CONTROL = 0x20;

// ---- specs and encoding --------------------------------------------------------------------------------------------

export type Header = readonly [key: string, value: Buffer | null];

export interface RecordSpec {
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly Header[];
}

export interface BatchSpec {
  readonly baseOffset: number;
  readonly lastOffsetDelta: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  readonly producerId: number;
  readonly transactional: boolean;
  readonly compression: number;
  /** Attribute bits set on the encoded bytes (kafkajs's encoder cannot write LogAppendTime or control batches). */
  readonly extraAttributes?: number;
  readonly records: readonly (RecordSpec | KafkajsEncoder)[];
}

/** A record's headers as kafkajs's producer takes them, or undefined when it cannot say them (null values, interleaved keys). */
export function kafkajsHeaders(headers: readonly Header[]): Record<string, Buffer | Buffer[]> | undefined {
  const object: Record<string, Buffer | Buffer[]> = {};
  for (const [key, value] of headers) {
    if (value === null) return undefined;
    const existing = object[key];
    object[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  const flattened = Object.entries(object).flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((v) => [key, v] as const));
  return flattened.every(([key, value], i) => key === headers[i]?.[0] && value === headers[i]?.[1]) ? object : undefined;
}

/** The record as the Kafka wire format has it, written with kafkajs's encoder primitives (for what kafkajs's Record cannot say). */
export function encodeRecordDirectly(r: RecordSpec): KafkajsEncoder {
  const body = new Encoder().writeInt8(0).writeVarLong(r.timestampDelta).writeVarInt(r.offsetDelta).writeVarIntBytes(r.key).writeVarIntBytes(r.value).writeVarInt(r.headers.length);
  for (const [key, value] of r.headers) body.writeVarIntString(key).writeVarIntBytes(value);
  return new Encoder().writeVarInt(body.size()).writeEncoder(body);
}

export function encodeRecord(r: RecordSpec): KafkajsEncoder {
  const headers = kafkajsHeaders(r.headers);
  if (headers === undefined) return encodeRecordDirectly(r);
  return KafkajsRecord({ offsetDelta: r.offsetDelta, timestampDelta: r.timestampDelta, key: r.key, value: r.value, headers });
}

/** Raw record bytes (for corrupt records): `build` writes everything, length prefix included. */
export function rawRecord(build: (e: KafkajsEncoder) => KafkajsEncoder): KafkajsEncoder {
  return build(new Encoder());
}

export async function encodeBatch(b: BatchSpec): Promise<Buffer> {
  const encoded = await RecordBatch({
    compression: b.compression,
    firstOffset: b.baseOffset,
    firstTimestamp: b.firstTimestamp,
    maxTimestamp: b.maxTimestamp,
    lastOffsetDelta: b.lastOffsetDelta,
    producerId: b.producerId,
    producerEpoch: 3,
    firstSequence: 0,
    transactional: b.transactional,
    records: b.records.map((r) => ('buffer' in r ? r : encodeRecord(r))),
  });
  const bytes = Buffer.from(encoded.buffer);
  if (b.extraAttributes !== undefined) bytes.writeInt16BE(bytes.readInt16BE(AT.attributes) | b.extraAttributes, AT.attributes);
  return bytes;
}

export async function encodeSet(batches: readonly BatchSpec[]): Promise<Buffer> {
  return Buffer.concat(await Promise.all(batches.map(encodeBatch)));
}

/** A plain batch of small records with the given values, at consecutive offsets. */
export function simpleBatch(baseOffset: number, values: readonly string[], overrides: Partial<BatchSpec> = {}): BatchSpec {
  return {
    baseOffset,
    lastOffsetDelta: Math.max(0, values.length - 1),
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_000 + values.length,
    producerId: -1,
    transactional: false,
    compression: Compression.None,
    records: values.map((v, i) => ({ offsetDelta: i, timestampDelta: i, key: null, value: Buffer.from(v), headers: [] })),
    ...overrides,
  };
}

// ---- random specs --------------------------------------------------------------------------------------------------

const TEXTS = ['', 'a', 'héllo wörld', '日本語のテキスト', 'emoji 🎉🚀 done', '{"id":7,"name":"Zoë","tags":["ß","€"]}', 'x'.repeat(200), 'ü'.repeat(90)];
const HEADER_KEYS = ['trace-id', 'kind', 'ümlaut', '日本'];

export function randomGenerators(rand: () => number) {
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const payload = (): Buffer =>
    rand() < 0.2 ? Buffer.from(Array.from({ length: int(40) }, () => int(256))) : Buffer.from(pick(TEXTS) + (rand() < 0.5 ? String(int(1e6)) : ''));
  const timestampDelta = (): number =>
    pick([
      () => int(1000),
      () => -int(100_000), // timestamps need not be ordered within a batch
      () => 2 ** 31 + int(2 ** 39), // a varlong beyond 28 and 32 bits
      () => -(2 ** 31 + int(2 ** 39)),
      () => 2 ** 27 + int(2 ** 28),
    ])();
  const headers = (): Header[] => {
    const list: Header[] = Array.from({ length: int(4) }, () => [pick(HEADER_KEYS), rand() < 0.2 ? null : payload()] as const);
    if (list.length >= 2 && rand() < 0.5) list[list.length - 1] = [list[0]![0], rand() < 0.3 ? null : payload()]; // a repeated key
    return list;
  };
  const batch = (baseOffset: number, compression: number): BatchSpec => {
    const count = rand() < 0.1 ? 0 : 1 + int(6);
    const records: RecordSpec[] = [];
    let delta = rand() < 0.2 ? int(5) : 0; // compaction may have removed the first records
    for (let i = 0; i < count; i++) {
      records.push({ offsetDelta: delta, timestampDelta: timestampDelta(), key: rand() < 0.3 ? null : payload(), value: rand() < 0.15 ? null : payload(), headers: headers() });
      delta += 1 + (rand() < 0.3 ? int(50) : 0) + (rand() < 0.05 && delta < 2 ** 29 ? 2 ** 28 + int(2 ** 29) : 0); // gaps, some needing a 5-byte varint
    }
    const last = records.at(-1)?.offsetDelta ?? int(5);
    const producerId = rand() < 0.5 ? -1 : int(2 ** 40);
    const firstTimestamp = 1_600_000_000_000 + int(2 ** 36);
    return {
      baseOffset,
      lastOffsetDelta: last + (rand() < 0.3 ? 1 + int(10) : 0), // compaction may have removed the last records too
      firstTimestamp,
      maxTimestamp: firstTimestamp + int(1e6),
      producerId,
      transactional: producerId >= 0 && rand() < 0.5,
      compression,
      records,
    };
  };
  /** Consecutive batches (with offset gaps between them), compressed with `compression()`. */
  const set = (batches: number, compression: () => number): BatchSpec[] => {
    const specs: BatchSpec[] = [];
    let base = rand() < 0.5 ? int(1000) : int(2 ** 40);
    for (let i = 0; i < batches; i++) {
      const spec = batch(base, compression());
      specs.push(spec);
      base += spec.lastOffsetDelta + 1 + (rand() < 0.3 ? int(100) : 0);
    }
    return specs;
  };
  return { int, set };
}

// ---- reading ---------------------------------------------------------------------------------------------------------

export const NO_HEADERS = Object.freeze({});

export interface ReadRecord {
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly valueString: string | null;
  readonly keySize: number;
  readonly valueSize: number;
  readonly headers: object;
}

export interface ReadBatch {
  readonly baseOffset: number;
  readonly nextOffset: number;
  readonly producerId: number;
  readonly isTransactional: boolean;
  readonly isControlBatch: boolean;
  readonly maxTimestamp: number;
  readonly records: readonly ReadRecord[];
}

function readRecord(set: RecordSetReader): ReadRecord {
  return {
    offset: String(set.offset),
    timestamp: String(set.timestamp),
    key: set.key(),
    value: set.value(),
    valueString: set.valueString(),
    keySize: set.keySize,
    valueSize: set.valueSize,
    headers: set.headers(NO_HEADERS),
  };
}

function readBatches(set: RecordSetReader): ReadBatch[] {
  const batches: ReadBatch[] = [];
  while (set.nextBatch()) {
    const records: ReadRecord[] = [];
    while (set.nextRecord()) records.push(readRecord(set));
    const { baseOffset, nextOffset, producerId, isTransactional, isControlBatch, maxTimestamp } = set;
    batches.push({ baseOffset, nextOffset, producerId, isTransactional, isControlBatch, maxTimestamp, records });
  }
  assert.equal(set.nextBatch(), false, 'nextBatch stays false once the set is read');
  return batches;
}

export async function readSet(bytes: Buffer): Promise<ReadBatch[]> {
  return readBatches(await RecordSetReader.open(bytes));
}

/** What the reader must report for a record kafkajs decoded. */
function expectedFromKafkajs(m: KafkajsMessage): ReadRecord {
  return {
    offset: m.offset,
    timestamp: m.timestamp,
    key: m.key,
    value: m.value,
    valueString: m.value === null ? null : m.value.toString('utf8'),
    keySize: m.key?.length ?? 0,
    valueSize: m.value?.length ?? 0,
    headers: m.headers,
  };
}

export function assertRecordsMatch(ours: readonly ReadRecord[], theirs: readonly KafkajsMessage[], context: string): void {
  assert.equal(ours.length, theirs.length, `${context}: record count`);
  ours.forEach((record, i) => {
    const expected = expectedFromKafkajs(theirs[i]!);
    assert.deepEqual(record, expected, `${context}: record ${i} (offset ${expected.offset})`);
    if (Object.keys(expected.headers).length === 0) assert.equal(record.headers, NO_HEADERS, `${context}: record ${i} without headers gets the caller's empty object`);
  });
}

/** Batch-level fields as the spec wrote them. */
export function assertBatchesMatch(ours: readonly ReadBatch[], specs: readonly BatchSpec[], context: string): void {
  assert.deepEqual(
    ours.map(({ records: _, ...batch }) => batch),
    specs.map((s) => ({
      baseOffset: s.baseOffset,
      nextOffset: s.baseOffset + s.lastOffsetDelta + 1,
      producerId: s.producerId,
      isTransactional: s.transactional || ((s.extraAttributes ?? 0) & TRANSACTIONAL) !== 0,
      isControlBatch: ((s.extraAttributes ?? 0) & CONTROL) !== 0,
      maxTimestamp: s.maxTimestamp,
    })),
    `${context}: batches`,
  );
}

export async function assertSetMatchesKafkajs(specs: readonly BatchSpec[], context: string): Promise<ReadBatch[]> {
  const bytes = await encodeSet(specs);
  const ours = await readSet(bytes);
  assertBatchesMatch(ours, specs, context);
  assertRecordsMatch(
    ours.flatMap((b) => b.records),
    await kafkajsDecode(bytes),
    context,
  );
  return ours;
}

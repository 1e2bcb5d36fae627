import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { RecordSetReader } from '../../../../connectors/kafka/source/fetch/record-set-reader.ts';
import { SluiceError } from '../../../../runtime/errors/index.ts';
import { seededRandom } from '../../../support/seeded-random.ts';

/**
 * RecordSetReader against kafkajs 2.2.4 as the oracle: record batches are encoded with kafkajs's own producer-side
 * encoder (RecordBatch / Record) and every decoded field is compared with kafkajs's Fetch decoder (decodeMessages) on
 * the very same bytes.
 */

// ---- kafkajs internals ---------------------------------------------------------------------------------------------

interface KafkajsEncoder {
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

interface KafkajsMessage {
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
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => KafkajsEncoder;
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
const KafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (args: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
}) => KafkajsEncoder;
const { Types: Compression } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { None: 0; GZIP: 1; Snappy: 2; LZ4: 3; ZSTD: 4 } };
const decodeMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js') as (decoder: object) => Promise<KafkajsMessage[]>;
const LegacyMessage = {
  0: require('kafkajs/src/protocol/message/v0/index.js') as (args: { key: Buffer | null; value: Buffer | null }) => KafkajsEncoder,
  1: require('kafkajs/src/protocol/message/v1/index.js') as (args: { key: Buffer | null; value: Buffer | null; timestamp: number }) => KafkajsEncoder,
};
const { CompressionCodecs } = require('kafkajs') as { CompressionCodecs: Record<number, (() => Codec) | undefined> };

/** kafkajs's decode of a RECORDS field, as its Fetch v4+ response decoder sees it (int32 size, then the bytes). */
async function kafkajsDecode(set: Buffer): Promise<KafkajsMessage[]> {
  const sized = Buffer.alloc(4 + set.length);
  sized.writeInt32BE(set.length, 0);
  set.copy(sized, 4);
  return decodeMessages(new Decoder(sized));
}

// ---- batch layout (https://kafka.apache.org/documentation/#recordbatch) ----------------------------------------------

const AT = { length: 8, magic: 16, attributes: 21, lastOffsetDelta: 23, count: 57, records: 61 } as const;
const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

// ---- specs and encoding --------------------------------------------------------------------------------------------

type Header = readonly [key: string, value: Buffer | null];

interface RecordSpec {
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly Header[];
}

interface BatchSpec {
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
function kafkajsHeaders(headers: readonly Header[]): Record<string, Buffer | Buffer[]> | undefined {
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
function encodeRecordDirectly(r: RecordSpec): KafkajsEncoder {
  const body = new Encoder().writeInt8(0).writeVarLong(r.timestampDelta).writeVarInt(r.offsetDelta).writeVarIntBytes(r.key).writeVarIntBytes(r.value).writeVarInt(r.headers.length);
  for (const [key, value] of r.headers) body.writeVarIntString(key).writeVarIntBytes(value);
  return new Encoder().writeVarInt(body.size()).writeEncoder(body);
}

function encodeRecord(r: RecordSpec): KafkajsEncoder {
  const headers = kafkajsHeaders(r.headers);
  if (headers === undefined) return encodeRecordDirectly(r);
  return KafkajsRecord({ offsetDelta: r.offsetDelta, timestampDelta: r.timestampDelta, key: r.key, value: r.value, headers });
}

/** Raw record bytes (for corrupt records): `build` writes everything, length prefix included. */
function rawRecord(build: (e: KafkajsEncoder) => KafkajsEncoder): KafkajsEncoder {
  return build(new Encoder());
}

async function encodeBatch(b: BatchSpec): Promise<Buffer> {
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

async function encodeSet(batches: readonly BatchSpec[]): Promise<Buffer> {
  return Buffer.concat(await Promise.all(batches.map(encodeBatch)));
}

/** A plain batch of small records with the given values, at consecutive offsets. */
function simpleBatch(baseOffset: number, values: readonly string[], overrides: Partial<BatchSpec> = {}): BatchSpec {
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

function randomGenerators(rand: () => number) {
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

const NO_HEADERS = Object.freeze({});

interface ReadRecord {
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly valueString: string | null;
  readonly keySize: number;
  readonly valueSize: number;
  readonly headers: object;
}

interface ReadBatch {
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

async function readSet(bytes: Buffer): Promise<ReadBatch[]> {
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

function assertRecordsMatch(ours: readonly ReadRecord[], theirs: readonly KafkajsMessage[], context: string): void {
  assert.equal(ours.length, theirs.length, `${context}: record count`);
  ours.forEach((record, i) => {
    const expected = expectedFromKafkajs(theirs[i]!);
    assert.deepEqual(record, expected, `${context}: record ${i} (offset ${expected.offset})`);
    if (Object.keys(expected.headers).length === 0) assert.equal(record.headers, NO_HEADERS, `${context}: record ${i} without headers gets the caller's empty object`);
  });
}

/** Batch-level fields as the spec wrote them. */
function assertBatchesMatch(ours: readonly ReadBatch[], specs: readonly BatchSpec[], context: string): void {
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

async function assertSetMatchesKafkajs(specs: readonly BatchSpec[], context: string): Promise<ReadBatch[]> {
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

// ---- errors ------------------------------------------------------------------------------------------------------------

/** Why `action` did not reject with a SLUICE_KAFKA_ERROR SluiceError matching `patterns`, or undefined when it did. */
async function kafkaErrorMismatch(action: () => Promise<unknown>, patterns: readonly RegExp[]): Promise<string | undefined> {
  try {
    await action();
  } catch (err) {
    if (!(err instanceof SluiceError)) return `expected a SluiceError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
    if (err.code !== 'SLUICE_KAFKA_ERROR') return `code ${err.code}: ${err.message}`;
    const missed = patterns.filter((p) => !p.test(err.message));
    return missed.length === 0 ? undefined : `message ${JSON.stringify(err.message)} does not match ${missed.join(', ')}`;
  }
  return 'no error';
}

async function assertKafkaError(action: () => Promise<unknown>, patterns: readonly RegExp[], context: string): Promise<void> {
  assert.equal(await kafkaErrorMismatch(action, patterns), undefined, context);
}

/** Every case's mismatch, so that a failure lists all the cases that fail, not the first. */
async function assertKafkaErrors(cases: ReadonlyArray<readonly [context: string, action: () => Promise<unknown>]>, patterns: readonly RegExp[]): Promise<void> {
  const mismatches: string[] = [];
  for (const [context, action] of cases) {
    const mismatch = await kafkaErrorMismatch(action, patterns);
    if (mismatch !== undefined) mismatches.push(`${context}: ${mismatch}`);
  }
  assert.deepEqual(mismatches, []);
}

const CORRUPT = /corrupt record batch/;

/** `open()` in a worker thread, so a reader that loops forever fails the test instead of hanging it. */
async function openInWorker(set: Buffer, timeoutMs: number): Promise<string> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.tsx)
      .then(({ register }) => { register(); return import(workerData.reader); })
      .then(({ RecordSetReader }) => { parentPort.postMessage('loaded'); return RecordSetReader.open(Buffer.from(workerData.set)); })
      .then(() => parentPort.postMessage('resolved'), (err) => parentPort.postMessage('rejected: ' + (err && err.name) + ' ' + (err && err.code) + ' ' + (err && err.message)));`,
    {
      eval: true,
      workerData: { tsx: import.meta.resolve('tsx/esm/api'), reader: new URL('../../../../connectors/kafka/source/fetch/record-set-reader.ts', import.meta.url).href, set },
    },
  );
  try {
    return await new Promise<string>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      worker.on('error', reject);
      worker.on('message', (message: string) => {
        if (message !== 'loaded') return resolve(message);
        timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
      });
      worker.on('exit', () => clearTimeout(timer));
    });
  } finally {
    await worker.terminate();
  }
}

// ---- 1. uncompressed batches against kafkajs -----------------------------------------------------------------------------

test('the harness: records written directly are byte for byte what kafkajs Record writes', () => {
  const spec: RecordSpec = {
    offsetDelta: 2 ** 29,
    timestampDelta: -(2 ** 33),
    key: Buffer.from('ключ'),
    value: Buffer.from('x'.repeat(300)),
    headers: [
      ['a', Buffer.from('1')],
      ['a', Buffer.from('2')],
      ['日本', Buffer.alloc(0)],
    ],
  };
  const viaKafkajs = KafkajsRecord({ ...spec, headers: kafkajsHeaders(spec.headers)! }).buffer;
  assert.deepEqual(encodeRecordDirectly(spec).buffer, viaKafkajs);
});

test('random uncompressed record sets decode exactly as kafkajs decodes them', async () => {
  let records = 0;
  let nullHeaderValues = 0;
  let repeatedKeys = 0;
  for (let seed = 1; seed <= 25; seed++) {
    const { int, set } = randomGenerators(seededRandom(seed));
    const specs = set(2 + int(4), () => Compression.None);
    const read = await assertSetMatchesKafkajs(specs, `seed ${seed}`);
    for (const record of read.flatMap((b) => b.records)) {
      records++;
      const values = Object.values(record.headers).flat();
      nullHeaderValues += values.filter((v) => v === null).length;
      repeatedKeys += Object.values(record.headers).filter(Array.isArray).length;
    }
  }
  // The generator did exercise what it is meant to.
  assert.ok(records > 200, `${records} records`);
  assert.ok(nullHeaderValues > 10 && repeatedKeys > 10, `${nullHeaderValues} null header values, ${repeatedKeys} repeated header keys`);
});

test('large offset and timestamp deltas, negative timestamp deltas and a 64-bit base offset are exact', async () => {
  const records: RecordSpec[] = [0, 2 ** 28, 2 ** 31 - 2].map((offsetDelta, i) => ({
    offsetDelta,
    timestampDelta: [-(2 ** 40 + 3), 2 ** 45 + 1, -1][i]!,
    key: null,
    value: Buffer.from(`v${i}`),
    headers: [],
  }));
  const spec: BatchSpec = { ...simpleBatch(2 ** 45 + 7, []), lastOffsetDelta: 2 ** 31 - 2, firstTimestamp: 1_700_000_000_000, producerId: 2 ** 50 + 1, records };
  const [batch] = await assertSetMatchesKafkajs([spec], 'large deltas');
  assert.deepEqual(
    batch!.records.map((r) => [r.offset, r.timestamp]),
    [
      [String(2 ** 45 + 7), String(1_700_000_000_000 - (2 ** 40 + 3))],
      [String(2 ** 45 + 7 + 2 ** 28), String(1_700_000_000_000 + 2 ** 45 + 1)],
      [String(2 ** 45 + 7 + 2 ** 31 - 2), String(1_700_000_000_000 - 1)],
    ],
  );
});

test('value() and key() are views of the fetch buffer, not copies', async () => {
  const bytes = await encodeSet([{ ...simpleBatch(0, ['hello']), records: [{ offsetDelta: 0, timestampDelta: 0, key: Buffer.from('k'), value: Buffer.from('hello'), headers: [] }] }]);
  const set = await RecordSetReader.open(bytes);
  assert.ok(set.nextBatch() && set.nextRecord());
  assert.equal(set.value()!.buffer, bytes.buffer);
  assert.equal(set.key()!.buffer, bytes.buffer);
  bytes[set.value()!.byteOffset - bytes.byteOffset] = 'j'.charCodeAt(0);
  assert.equal(set.valueString(), 'jello');
});

test('nextBatch skips the records of the previous batch not read yet', async () => {
  const bytes = await encodeSet([simpleBatch(10, ['a', 'b', 'c']), simpleBatch(13, ['d', 'e'])]);
  const set = await RecordSetReader.open(bytes);
  assert.ok(set.nextBatch() && set.nextRecord());
  assert.equal(set.valueString(), 'a');
  assert.ok(set.nextBatch() && set.nextRecord());
  assert.deepEqual([set.offset, set.valueString()], [13, 'd']);
});

test('an empty RECORDS field has no batches', async () => {
  assert.deepEqual(await readSet(Buffer.alloc(0)), []);
});

// ---- 2. gzip -------------------------------------------------------------------------------------------------------

test('random sets mixing gzip-compressed and uncompressed batches decode exactly as kafkajs decodes them', async () => {
  let compressedRecords = 0;
  for (let seed = 101; seed <= 115; seed++) {
    const rand = seededRandom(seed);
    const { int, set } = randomGenerators(rand);
    const specs = set(2 + int(3), () => (rand() < 0.7 ? Compression.GZIP : Compression.None));
    await assertSetMatchesKafkajs(specs, `seed ${seed}`);
    compressedRecords += specs.filter((s) => s.compression === Compression.GZIP).reduce((n, s) => n + s.records.length, 0);
  }
  assert.ok(compressedRecords > 50, `${compressedRecords} compressed records`);
});

// ---- 3. truncated last batch -----------------------------------------------------------------------------------------

for (const [name, lastCompression] of [['uncompressed', Compression.None], ['gzip', Compression.GZIP]] as const) {
  test(`a set cut at every byte reads exactly the batches complete before the cut (last batch ${name})`, async () => {
    const { set } = randomGenerators(seededRandom(7));
    const specs = set(3, () => Compression.None).map((s, i) => (i === 2 ? { ...s, compression: lastCompression } : s));
    const batches = await Promise.all(specs.map(encodeBatch));
    const bytes = Buffer.concat(batches);
    const ends = batches.map((_, i) => batches.slice(0, i + 1).reduce((n, b) => n + b.length, 0));
    const expected = await Promise.all(batches.map(kafkajsDecode));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const complete = ends.filter((end) => end <= cut).length;
      const ours = await readSet(bytes.subarray(0, cut));
      assertBatchesMatch(ours, specs.slice(0, complete), `cut at ${cut}`);
      assertRecordsMatch(ours.flatMap((b) => b.records), expected.slice(0, complete).flat(), `cut at ${cut}`);
    }
  });
}

// ---- 4. LogAppendTime ---------------------------------------------------------------------------------------------------

test('under LogAppendTime every record has the batch max timestamp, as kafkajs reports it', async () => {
  for (const compression of [Compression.None, Compression.GZIP]) {
    const { set } = randomGenerators(seededRandom(31 + compression));
    const specs = set(4, () => compression).map((s) => ({ ...s, maxTimestamp: 1_234_567_890_123, extraAttributes: LOG_APPEND_TIME }));
    const read = await assertSetMatchesKafkajs(specs, `compression ${compression}`);
    const records = read.flatMap((b) => b.records);
    assert.ok(records.length > 5);
    for (const record of records) assert.equal(record.timestamp, '1234567890123');
  }
});

// ---- 5. nextOffset ----------------------------------------------------------------------------------------------------------

test('nextOffset is baseOffset + lastOffsetDelta + 1 even when compaction removed the last records, and for empty batches', async () => {
  const compacted: BatchSpec = {
    ...simpleBatch(500, []),
    lastOffsetDelta: 9,
    records: [0, 2, 5].map((offsetDelta) => ({ offsetDelta, timestampDelta: 0, key: null, value: Buffer.from(`at ${offsetDelta}`), headers: [] })),
  };
  const specs: BatchSpec[] = [
    compacted,
    { ...simpleBatch(510, []), lastOffsetDelta: 4 }, // every record compacted away: count 0
    { ...simpleBatch(515, []), lastOffsetDelta: 2, compression: Compression.GZIP }, // an empty compressed batch
    { ...compacted, baseOffset: 518, compression: Compression.GZIP },
  ];
  const read = await assertSetMatchesKafkajs(specs, 'compaction');
  assert.deepEqual(
    read.map((b) => [b.baseOffset, b.nextOffset, b.records.map((r) => r.offset)]),
    [
      [500, 510, ['500', '502', '505']],
      [510, 515, []],
      [515, 518, []],
      [518, 528, ['518', '520', '523']],
    ],
  );
});

// ---- 6. control batches ------------------------------------------------------------------------------------------------------

function controlRecord(type: number, keyBytes = 4): RecordSpec {
  const key = Buffer.alloc(keyBytes);
  if (keyBytes >= 4) key.writeInt16BE(type, 2); // version 0, type
  const value = Buffer.alloc(6); // version 0, coordinator epoch
  value.writeInt32BE(17, 2);
  return { offsetDelta: 0, timestampDelta: 0, key, value, headers: [] };
}

function controlBatch(baseOffset: number, producerId: number, record: RecordSpec): BatchSpec {
  return { ...simpleBatch(baseOffset, []), producerId, transactional: true, extraAttributes: CONTROL, records: [record] };
}

test('control batches: flags, producer id and the COMMIT/ABORT marker', async () => {
  const producer = 2 ** 40 + 12_345;
  const specs: BatchSpec[] = [
    simpleBatch(0, ['plain']),
    { ...simpleBatch(1, ['t1', 't2']), producerId: producer, transactional: true },
    controlBatch(3, producer, controlRecord(1)),
    { ...simpleBatch(4, ['t3']), producerId: producer, transactional: true },
    controlBatch(5, producer, controlRecord(0)),
    controlBatch(6, producer, controlRecord(2)), // a control type this reader does not know
    controlBatch(7, producer, controlRecord(1, 2)), // a key too short to hold a type
  ];
  await assertSetMatchesKafkajs(specs, 'control');
  const set = await RecordSetReader.open(await encodeSet(specs));
  const seen: unknown[] = [];
  while (set.nextBatch()) {
    const control = set.controlType();
    const first = set.nextRecord() ? set.valueString() : undefined;
    seen.push([set.baseOffset, set.isControlBatch, set.isTransactional, set.producerId, control, first]);
  }
  assert.deepEqual(seen, [
    [0, false, false, -1, undefined, 'plain'], // controlType() on a data batch consumes nothing
    [1, false, true, producer, undefined, 't1'],
    [3, true, true, producer, 'commit', undefined],
    [4, false, true, producer, undefined, 't3'],
    [5, true, true, producer, 'abort', undefined],
    [6, true, true, producer, undefined, undefined],
    [7, true, true, producer, undefined, undefined],
  ]);
});

// ---- 7. legacy message format ---------------------------------------------------------------------------------------------

function legacySet(magic: 0 | 1, values: readonly string[]): Buffer {
  const e = new Encoder();
  values.forEach((value, i) => {
    const message = LegacyMessage[magic]({ key: Buffer.from(`key-${i}`), value: Buffer.from(value), timestamp: 1_500_000_000_000 + i });
    e.writeInt64(40 + i).writeInt32(message.size()).writeEncoder(message);
  });
  return Buffer.from(e.buffer);
}

const LEGACY_ADVICE = /format v2 only.*(current client|message\.format\.version)/;

test('legacy message sets (format v0 and v1) are refused with what to do', async () => {
  for (const magic of [0, 1] as const) {
    const bytes = legacySet(magic, ['first legacy value', 'second legacy value', 'third legacy value']);
    assert.ok(bytes.length > 61);
    assert.deepEqual((await kafkajsDecode(bytes)).map((m) => m.magicByte), [magic, magic, magic], 'the input really is a legacy message set');
    await assertKafkaError(() => RecordSetReader.open(bytes), [new RegExp(`format v${magic}\\b`), LEGACY_ADVICE], `v${magic}`);
    // Behind a current batch too.
    const mixed = Buffer.concat([await encodeBatch(simpleBatch(0, ['new'])), bytes]);
    await assertKafkaError(() => readSet(mixed), [new RegExp(`format v${magic}\\b`), LEGACY_ADVICE], `v2 then v${magic}`);
  }
});

test('a legacy message set shorter than a v2 batch header is refused too, not taken for a truncated batch', async () => {
  // Read as "nothing complete yet", the source would fetch the same offset again forever.
  const cases = ([0, 1] as const).map((magic) => {
    const bytes = legacySet(magic, ['x']);
    assert.ok(bytes.length < 61, `${bytes.length} bytes`);
    return [`a single v${magic} message of ${bytes.length} bytes`, () => readSet(bytes)] as const;
  });
  await assertKafkaErrors(cases, [/format v[01]\b/, LEGACY_ADVICE]);
});

// ---- 8. corrupt data ------------------------------------------------------------------------------------------------------------

const body = (e: KafkajsEncoder): KafkajsEncoder => e.writeInt8(0).writeVarLong(0).writeVarInt(0).writeVarIntBytes(null).writeVarIntBytes(Buffer.from('a')).writeVarInt(0); // 7 bytes
const GOOD_RECORD = rawRecord((e) => body(e.writeVarInt(7)));

/** Corrupt batches at offset 100, each followed by a good batch at offset 200 or alone. */
const CORRUPTIONS: ReadonlyArray<readonly [string, () => Promise<Buffer>]> = [
  ['a record length that overruns its batch', () => encodeBatch({ ...simpleBatch(100, []), records: [GOOD_RECORD, rawRecord((e) => body(e.writeVarInt(100)))] })],
  ['a negative record length', () => encodeBatch({ ...simpleBatch(100, []), records: [rawRecord((e) => body(e.writeVarInt(-5)))] })],
  ['a record length shorter than its fields', () => encodeBatch({ ...simpleBatch(100, []), records: [rawRecord((e) => body(e.writeVarInt(3))), GOOD_RECORD] })],
  [
    'a key that overruns its record',
    () => encodeBatch({ ...simpleBatch(100, []), records: [rawRecord((e) => e.writeVarInt(7).writeInt8(0).writeVarLong(0).writeVarInt(0).writeVarInt(40).writeBuffer(Buffer.from('abc'))), GOOD_RECORD] }),
  ],
  ['a negative header count', () => encodeBatch({ ...simpleBatch(100, []), records: [rawRecord((e) => e.writeVarInt(7).writeInt8(0).writeVarLong(0).writeVarInt(0).writeVarIntBytes(null).writeVarIntBytes(Buffer.from('a')).writeVarInt(-3))] })],
  ['a varlong longer than 10 bytes', () => encodeBatch({ ...simpleBatch(100, []), records: [rawRecord((e) => e.writeVarInt(17).writeInt8(0).writeBuffer(Buffer.from([...Array(11).fill(0xff), 0x01])).writeVarInt(0).writeVarInt(-1).writeVarInt(-1).writeVarInt(0))] })],
  [
    // The length ends where the value starts, and the value holds a well-formed record: only the length check sees it.
    'a record length that ends inside its value',
    () => encodeBatch({ ...simpleBatch(100, []), records: [rawRecord((e) => e.writeVarInt(5).writeInt8(0).writeVarLong(0).writeVarInt(0).writeVarIntBytes(null).writeVarIntBytes(GOOD_RECORD.buffer).writeVarInt(0))], lastOffsetDelta: 1 }).then((b) => withCount(b, 2)),
  ],
  ['a record count beyond its records', async () => withCount(await encodeBatch(simpleBatch(100, ['a', 'b'])), 3)],
  ['a record count beyond its gzip-compressed records', async () => withCount(await encodeBatch(simpleBatch(100, ['a', 'b'], { compression: Compression.GZIP })), 3)],
];

function withCount(batch: Buffer, count: number): Buffer {
  batch.writeInt32BE(count, AT.count);
  return batch;
}

function corruptionCases(next: Buffer): Array<readonly [string, () => Promise<unknown>]> {
  return CORRUPTIONS.flatMap(([what, make]) => [
    [`${what}, last batch`, async () => readSet(await make())],
    [`${what}, followed by a batch`, async () => readSet(Buffer.concat([await make(), next]))],
  ] as const);
}

test('corrupt records fail with a corrupt-record-batch SluiceError, wherever the batch is in the set', async () => {
  await assertKafkaErrors(corruptionCases(await encodeBatch(simpleBatch(200, ['after']))), [CORRUPT]);
});

test('a corrupt-record-batch error names the offset of the corrupt batch', async () => {
  await assertKafkaErrors(corruptionCases(await encodeBatch(simpleBatch(200, ['after']))), [/corrupt record batch at offset 100\b/]);
});

test('a header count beyond the record\'s headers fails instead of reading the next records as headers', async () => {
  // One header written, two announced: the second would be made of the following records' bytes.
  const liar = rawRecord((e) => {
    const fields = new Encoder().writeInt8(0).writeVarLong(0).writeVarInt(0).writeVarIntBytes(null).writeVarIntBytes(Buffer.from('a')).writeVarInt(2).writeVarIntString('h').writeVarIntBytes(Buffer.from('x'));
    return e.writeVarInt(fields.size()).writeEncoder(fields);
  });
  const records = [liar, ...[1, 2].map((i) => encodeRecord({ offsetDelta: i, timestampDelta: 0, key: null, value: Buffer.from(`value ${i}`), headers: [] }))];
  const bytes = await encodeBatch({ ...simpleBatch(100, []), lastOffsetDelta: 2, records });
  await assertKafkaError(
    async () => {
      const set = await RecordSetReader.open(bytes);
      assert.ok(set.nextBatch() && set.nextRecord());
      return set.headers(NO_HEADERS);
    },
    [CORRUPT],
    'headers',
  );
});

test('a batch length shorter than a batch header fails with a corrupt-record-batch SluiceError', async () => {
  const good = await Promise.all([encodeBatch(simpleBatch(100, ['a', 'b', 'c'])), encodeBatch(simpleBatch(103, ['d', 'e']))]);
  const cases = [-100, -13, -1, 0, 10, 48].flatMap((length) =>
    [0, 1].map((which) => {
      const batches = good.map((b) => Buffer.from(b));
      batches[which]!.writeInt32BE(length, AT.length);
      return [`batch ${which} of length ${length}`, () => readSet(Buffer.concat(batches))] as const;
    }),
  );
  await assertKafkaErrors(cases, [CORRUPT]);
});

test('a batch length of -12 (a batch ending where it starts) fails rather than looping forever', async () => {
  const batches = await Promise.all([encodeBatch(simpleBatch(100, ['a', 'b', 'c'])), encodeBatch(simpleBatch(103, ['d', 'e']))]);
  batches[0]!.writeInt32BE(-12, AT.length);
  const outcome = await openInWorker(Buffer.concat(batches), 500);
  // A correct reader may refuse the set in open() or later, in nextBatch(): it must not hang in open().
  assert.match(outcome, /^(resolved|rejected: SluiceError SLUICE_KAFKA_ERROR corrupt record batch)/);
});

// ---- 9. compression codecs ---------------------------------------------------------------------------------------------------------

test('a compression type without a registered codec fails naming it and kafkajs\'s CompressionCodecs', async () => {
  for (const [type, name] of [[Compression.Snappy, 'snappy'], [Compression.LZ4, 'lz4'], [Compression.ZSTD, 'zstd']] as const) {
    // Uncompressed records labelled with the codec: open() must ask the registry, which has no codec for it.
    const bytes = await encodeBatch(simpleBatch(100, ['a'], { extraAttributes: type }));
    await assertKafkaError(() => RecordSetReader.open(bytes), [new RegExp(`\\b${name}\\b`), /CompressionCodecs/], name);
  }
  const unknown = await encodeBatch(simpleBatch(100, ['a'], { extraAttributes: 5 }));
  await assertKafkaError(() => RecordSetReader.open(unknown), [CORRUPT, /compression type 5/], 'type 5');
});

test('gzip bytes that do not inflate fail with a SluiceError naming gzip', async () => {
  const bytes = await encodeBatch(simpleBatch(100, ['a', 'b'], { compression: Compression.GZIP }));
  bytes.fill(0x55, AT.records + 10);
  await assertKafkaError(() => RecordSetReader.open(bytes), [/gzip/, /decompress/], 'bad gzip');
});

test('a codec registered in kafkajs\'s CompressionCodecs is used, as kafkajs uses it', async () => {
  // A stand-in "snappy": byte-reversed records, so a reader that skipped the codec would read garbage.
  const reverse = (data: Buffer): Buffer => Buffer.from(data).reverse();
  const original = CompressionCodecs[Compression.Snappy];
  CompressionCodecs[Compression.Snappy] = () => ({ compress: async (e) => reverse(e.buffer), decompress: async (data) => reverse(data) });
  try {
    const { set } = randomGenerators(seededRandom(77));
    const read = await assertSetMatchesKafkajs(set(3, () => Compression.Snappy), 'registered snappy');
    assert.ok(read.flatMap((b) => b.records).length > 3);
  } finally {
    CompressionCodecs[Compression.Snappy] = original;
  }
});

// ---- headers named like Object.prototype members -------------------------------------------------------------------------------

test('header keys named like Object.prototype members are plain headers', async () => {
  const headers: Header[] = [
    ['constructor', Buffer.from('c')],
    ['toString', Buffer.from('t')],
    ['__proto__', Buffer.from('p')],
  ];
  const bytes = await encodeBatch({ ...simpleBatch(0, []), records: [{ offsetDelta: 0, timestampDelta: 0, key: null, value: Buffer.from('v'), headers }] });
  const set = await RecordSetReader.open(bytes);
  assert.ok(set.nextBatch() && set.nextRecord());
  const read = set.headers(NO_HEADERS) as Record<string, unknown>;
  assert.deepEqual(
    headers.map(([key]) => [key, Object.hasOwn(read, key) ? read[key] : 'missing']),
    headers,
  );
});

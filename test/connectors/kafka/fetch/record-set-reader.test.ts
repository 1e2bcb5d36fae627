import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecordSetReader } from '../../../../connectors/kafka/source/fetch/record-set-reader.ts';
import { seededRandom } from '../../../support/seeded-random.ts';
import {
  assertBatchesMatch,
  assertRecordsMatch,
  assertSetMatchesKafkajs,
  Compression,
  encodeBatch,
  encodeRecordDirectly,
  encodeSet,
  kafkajsDecode,
  kafkajsHeaders,
  KafkajsRecord,
  LOG_APPEND_TIME,
  NO_HEADERS,
  randomGenerators,
  readSet,
  simpleBatch,
  type BatchSpec,
  type Header,
  type RecordSpec,
} from './support/record-sets.ts';

/**
 * RecordSetReader against kafkajs 2.2.4 as the oracle: record batches are encoded with kafkajs's own producer-side
 * encoder (RecordBatch / Record) and every decoded field is compared with kafkajs's Fetch decoder (decodeMessages) on
 * the very same bytes.
 */

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

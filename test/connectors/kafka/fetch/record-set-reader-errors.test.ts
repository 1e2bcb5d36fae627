// RecordSetReader's refusals and failures: control batches, legacy message sets, corrupt data and compression codecs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { RecordSetReader } from '../../../../connectors/kafka/source/fetch/record-set-reader.ts';
import { SluiceError } from '../../../../runtime/errors/index.ts';
import { seededRandom } from '../../../support/seeded-random.ts';
import {
  assertSetMatchesKafkajs,
  AT,
  Compression,
  CompressionCodecs,
  CONTROL,
  encodeBatch,
  Encoder,
  encodeRecord,
  encodeSet,
  kafkajsDecode,
  LegacyMessage,
  NO_HEADERS,
  randomGenerators,
  rawRecord,
  readSet,
  simpleBatch,
  type BatchSpec,
  type KafkajsEncoder,
  type RecordSpec,
} from './support/record-sets.ts';

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

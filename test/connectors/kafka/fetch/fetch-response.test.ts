import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { decodeFetchResponse, FETCH_VERSIONS, type FetchedPartition } from '../../../../connectors/kafka/source/fetch/fetch-response.ts';
import { RecordSetReader } from '../../../../connectors/kafka/source/fetch/record-set-reader.ts';
import { SluiceError } from '../../../../runtime/errors/index.ts';

/**
 * decodeFetchResponse on Fetch response bodies written here field by field (apache/kafka FetchResponse.json:
 * v4 adds last_stable_offset and aborted_transactions, v5 log_start_offset, v7 error_code and session_id, v11
 * preferred_read_replica, v12 is the first flexible version). kafkajs's own response decoders check the bodies are
 * what a broker sends.
 */

// ---- kafkajs ----------------------------------------------------------------------------------------------------------

interface KafkajsEncoder {
  readonly buffer: Buffer;
}

interface KafkajsFetchResponse {
  readonly errorCode?: number;
  readonly responses: ReadonlyArray<{
    readonly topicName: string;
    readonly partitions: ReadonlyArray<{
      readonly partition: number;
      readonly errorCode: number;
      readonly highWatermark: string;
      readonly lastStableOffset: string;
      readonly lastStartOffset?: string;
      readonly preferredReadReplica?: number;
      readonly abortedTransactions: ReadonlyArray<{ readonly producerId: string; readonly firstOffset: string }>;
      readonly messages: ReadonlyArray<{ readonly offset: string; readonly value: Buffer | null }>;
    }>;
  }>;
}

const require = createRequire(import.meta.url);
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch(args: { firstOffset: number; firstTimestamp: number; maxTimestamp: number; lastOffsetDelta: number; transactional?: boolean; producerId?: number; records: KafkajsEncoder[] }): Promise<KafkajsEncoder>;
};
const KafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (args: { offsetDelta: number; timestampDelta: number; key: Buffer | null; value: Buffer | null }) => KafkajsEncoder;

function kafkajsResponseDecoder(version: number): (body: Buffer) => Promise<KafkajsFetchResponse> {
  return (require(`kafkajs/src/protocol/requests/fetch/v${version}/response.js`) as { decode(body: Buffer): Promise<KafkajsFetchResponse> }).decode;
}

async function recordBatch(baseOffset: number, values: readonly string[], transactional = false): Promise<Buffer> {
  const records = values.map((value, i) => KafkajsRecord({ offsetDelta: i, timestampDelta: i, key: null, value: Buffer.from(value) }));
  const batch = await RecordBatch({
    firstOffset: baseOffset,
    firstTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_000 + values.length,
    lastOffsetDelta: values.length - 1,
    ...(transactional ? { transactional, producerId: 2 ** 33 + 1 } : {}),
    records,
  });
  return Buffer.from(batch.buffer);
}

// ---- writing response bodies -------------------------------------------------------------------------------------------

/** Big-endian writes, Kafka's primitive types. */
class Writer {
  readonly #chunks: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  #put(size: number, write: (b: Buffer) => void): this {
    const b = Buffer.alloc(size);
    write(b);
    this.#chunks.push(b);
    this.#length += size;
    return this;
  }

  int16(v: number): this {
    return this.#put(2, (b) => b.writeInt16BE(v));
  }

  int32(v: number): this {
    return this.#put(4, (b) => b.writeInt32BE(v));
  }

  int64(v: number): this {
    return this.#put(8, (b) => b.writeBigInt64BE(BigInt(v)));
  }

  string(s: string): this {
    const bytes = Buffer.from(s);
    this.int16(bytes.length);
    return this.#put(bytes.length, (b) => bytes.copy(b));
  }

  /** Nullable bytes: int32 length (-1 for null), then the bytes. */
  bytes(value: Buffer | null): this {
    this.int32(value === null ? -1 : value.length);
    return value === null ? this : this.#put(value.length, (b) => value.copy(b));
  }

  /** Nullable array: int32 count (-1 for null), then each item. */
  array<T>(items: readonly T[] | null, write: (item: T) => void): this {
    this.int32(items === null ? -1 : items.length);
    for (const item of items ?? []) write(item);
    return this;
  }

  build(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

interface PartitionSpec {
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly lastStableOffset: number;
  readonly logStartOffset: number;
  readonly abortedTransactions: ReadonlyArray<{ readonly producerId: number; readonly firstOffset: number }> | null;
  readonly preferredReadReplica: number;
  readonly records: Buffer | null;
}

interface ResponseSpec {
  readonly throttleTimeMs: number;
  readonly errorCode: number;
  readonly sessionId: number;
  readonly topics: ReadonlyArray<{ readonly topic: string; readonly partitions: readonly PartitionSpec[] }>;
}

/** A Fetch response body of `version`, inside a larger buffer (as a socket read would give it), and where each partition's records start in it. */
function encodeResponse(version: number, spec: ResponseSpec): { payload: Buffer; recordsAt: number[] } {
  const w = new Writer();
  const recordsAt: number[] = [];
  w.int32(spec.throttleTimeMs);
  if (version >= 7) w.int16(spec.errorCode).int32(spec.sessionId);
  w.array(spec.topics, ({ topic, partitions }) => {
    w.string(topic);
    w.array(partitions, (p) => {
      w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark).int64(p.lastStableOffset);
      if (version >= 5) w.int64(p.logStartOffset);
      w.array(p.abortedTransactions, (t) => w.int64(t.producerId).int64(t.firstOffset));
      if (version >= 11) w.int32(p.preferredReadReplica);
      recordsAt.push(w.length + 4);
      w.bytes(p.records);
    });
  });
  const body = w.build();
  const host = Buffer.concat([Buffer.alloc(13, 0xee), body, Buffer.alloc(7, 0xee)]);
  return { payload: host.subarray(13, 13 + body.length), recordsAt };
}

function expectedPartitions(spec: ResponseSpec): FetchedPartition[] {
  return spec.topics.flatMap(({ topic, partitions }) =>
    partitions.map((p) => ({
      topic,
      partition: p.partition,
      errorCode: p.errorCode,
      highWatermark: p.highWatermark,
      lastStableOffset: p.lastStableOffset,
      abortedTransactions: (p.abortedTransactions ?? []).map(({ producerId, firstOffset }) => ({ producerId, firstOffset })),
      records: p.records ?? Buffer.alloc(0),
    })),
  );
}

const partition = (overrides: Partial<PartitionSpec> & Pick<PartitionSpec, 'partition'>): PartitionSpec => ({
  errorCode: 0,
  highWatermark: 0,
  lastStableOffset: 0,
  logStartOffset: 0,
  abortedTransactions: null,
  preferredReadReplica: -1,
  records: null,
  ...overrides,
});

/** Two topics: records, aborted transactions, an error, null and empty records, and records ending in a truncated batch. */
async function sampleResponse(): Promise<ResponseSpec> {
  const truncated = (await recordBatch(205, ['cut', 'off'])).subarray(0, 40);
  return {
    throttleTimeMs: 25,
    errorCode: 0,
    sessionId: 0,
    topics: [
      {
        topic: 'orders',
        partitions: [
          partition({ partition: 0, highWatermark: 2 ** 40 + 5, lastStableOffset: 2 ** 40 + 3, logStartOffset: 17, preferredReadReplica: 2, records: await recordBatch(2 ** 40, ['a', 'b', 'c']) }),
          partition({
            partition: 3,
            highWatermark: 900,
            lastStableOffset: 850,
            logStartOffset: 1,
            abortedTransactions: [
              { producerId: 2 ** 33 + 1, firstOffset: 800 },
              { producerId: 7, firstOffset: 820 },
            ],
            records: await recordBatch(800, ['t1', 't2'], true),
          }),
          partition({ partition: 1, errorCode: 6, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1 }), // NOT_LEADER_OR_FOLLOWER, records null
        ],
      },
      {
        topic: 'payments.eu',
        partitions: [
          partition({ partition: 0, abortedTransactions: [], records: Buffer.alloc(0) }),
          partition({ partition: 2, highWatermark: 300, lastStableOffset: 300, logStartOffset: 200, records: Buffer.concat([await recordBatch(200, ['x', 'y', 'z', 'w', 'v']), truncated]) }),
        ],
      },
    ],
  };
}

// ---- tests -------------------------------------------------------------------------------------------------------------

const VERSIONS = Array.from({ length: FETCH_VERSIONS.max - FETCH_VERSIONS.min + 1 }, (_, i) => FETCH_VERSIONS.min + i);

test('the supported versions are Fetch v4 to v11', () => {
  assert.deepEqual(VERSIONS, [4, 5, 6, 7, 8, 9, 10, 11]);
});

for (const version of VERSIONS) {
  test(`Fetch v${version}: every partition field, and records as views of the payload`, async () => {
    const spec = await sampleResponse();
    const { payload, recordsAt } = encodeResponse(version, spec);
    const decoded = decodeFetchResponse(payload, version);
    assert.deepEqual(decoded, { errorCode: 0, partitions: expectedPartitions(spec) });
    decoded.partitions.forEach((p, i) => {
      if (p.records.length === 0) return;
      assert.equal(p.records.buffer, payload.buffer, `partition ${p.topic}-${p.partition}: a view, not a copy`);
      assert.equal(p.records.byteOffset, payload.byteOffset + recordsAt[i]!, `partition ${p.topic}-${p.partition}: where its records are`);
    });
  });

  test(`Fetch v${version}: kafkajs reads the same body the same way`, async () => {
    const spec = await sampleResponse();
    const { payload } = encodeResponse(version, spec);
    const ours = decodeFetchResponse(payload, version);
    const theirs = await kafkajsResponseDecoder(version)(Buffer.from(payload));
    const flat = theirs.responses.flatMap((r) => r.partitions.map((p) => ({ topic: r.topicName, ...p })));
    const specs = spec.topics.flatMap((t) => t.partitions);
    assert.equal(theirs.errorCode ?? 0, ours.errorCode);
    assert.equal(flat.length, ours.partitions.length);
    for (const [i, p] of ours.partitions.entries()) {
      const k = flat[i]!;
      const context = `${p.topic}-${p.partition}`;
      assert.deepEqual(
        [p.topic, p.partition, p.errorCode, String(p.highWatermark), String(p.lastStableOffset), p.abortedTransactions.map((t) => ({ producerId: String(t.producerId), firstOffset: String(t.firstOffset) }))],
        [k.topic, k.partition, k.errorCode, k.highWatermark, k.lastStableOffset, k.abortedTransactions],
        context,
      );
      // The fields decodeFetchResponse skips were where kafkajs read them.
      if (version >= 5) assert.equal(k.lastStartOffset, String(specs[i]!.logStartOffset), context);
      if (version >= 11) assert.equal(k.preferredReadReplica, specs[i]!.preferredReadReplica, context);
      const set = await RecordSetReader.open(p.records);
      const records: Array<{ offset: string; value: Buffer | null }> = [];
      while (set.nextBatch()) while (set.nextRecord()) records.push({ offset: String(set.offset), value: set.value() });
      assert.deepEqual(records, k.messages.map(({ offset, value }) => ({ offset, value })), context);
    }
  });
}

test('Fetch v7+: the whole-request error code (fetch sessions) is reported, v4-v6 have none', () => {
  const spec: ResponseSpec = { throttleTimeMs: 0, errorCode: 70, sessionId: 12345, topics: [] }; // FETCH_SESSION_ID_NOT_FOUND
  for (const version of VERSIONS) {
    const { payload } = encodeResponse(version, spec);
    assert.deepEqual(decodeFetchResponse(payload, version), { errorCode: version >= 7 ? 70 : 0, partitions: [] }, `v${version}`);
  }
});

test('an unsupported Fetch version is refused with a SluiceError', () => {
  for (const version of [0, 1, 2, 3, 12, 13, 16]) {
    assert.throws(
      () => decodeFetchResponse(Buffer.alloc(64), version),
      (err: unknown) => err instanceof SluiceError && err.code === 'SLUICE_KAFKA_ERROR' && err.message.includes(`v${version}`),
      `v${version}`,
    );
  }
});

test('a body cut anywhere before its end throws', async () => {
  const spec = await sampleResponse();
  for (const version of [4, 5, 7, 11]) {
    const { payload } = encodeResponse(version, spec);
    for (let cut = 0; cut < payload.length; cut++) {
      assert.throws(
        () => decodeFetchResponse(payload.subarray(0, cut), version),
        (err: unknown) => err instanceof RangeError || err instanceof SluiceError,
        `v${version} cut at ${cut} of ${payload.length}`,
      );
    }
  }
});

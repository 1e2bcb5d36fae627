import { createRequire } from 'node:module';
import { SluiceError } from '../../../../runtime/errors/index.ts';
import { KafkaSourceErrorCode } from '../errors.ts';

/**
 * A cursor over the `records` bytes of one partition of a Fetch response: Kafka's record batches (message format v2,
 * Kafka 0.11+), decoded in place.
 *
 * Why our own decoder: kafkajs decodes every fetched record into an object with `Long` offsets and timestamps turned
 * into decimal strings, a Buffer view for the key, the value and every header, and a spread-built headers object. That
 * is ~1.6 µs per record before a job sees it, more than the rest of a Kafka → keyBy → reduce pipeline costs
 * (bench/kafka-source-count.ts). This cursor allocates nothing per record: offsets and timestamps are numbers, the key,
 * value and headers stay ranges of the fetch buffer until the caller asks for them (`value()`, `valueString()`,
 * `key()`, `headers()`), and a JSON value is parsed straight from its range.
 *
 * Layout (https://kafka.apache.org/documentation/#recordbatch): a batch header of 61 bytes, then its records, each
 * `length varint, attributes int8, timestampDelta varlong, offsetDelta varint, key varint-bytes, value varint-bytes,
 * headers varint-array of (key varint-string, value varint-bytes)`. The records of a compressed batch are one
 * compressed block; {@link open} inflates those up front with kafkajs's codec registry (`CompressionCodecs`), so a job
 * registers snappy/lz4/zstd codecs exactly as with kafkajs. A Fetch response may end in a truncated batch (the broker
 * cuts at `maxBytes`); the cursor stops before it and the next fetch starts there. CRCs are not verified (kafkajs does
 * not either; TCP and the broker's own checks cover transport).
 *
 * @example
 * ```ts
 * const set = await RecordSetReader.open(partitionRecords);
 * while (set.nextBatch()) {
 *   if (set.isControlBatch) continue;
 *   while (set.nextRecord()) handle(set.offset, set.valueString());
 * }
 * ```
 */
export class RecordSetReader {
  /** The bytes the current record lives in: the fetch buffer, or a compressed batch's inflated records. */
  #data: Buffer;
  readonly #set: Buffer;
  /** Inflated records of compressed batches, by the batch's start in the set. */
  readonly #inflated: ReadonlyMap<number, Buffer>;
  /** Start of the current and of the next batch in the set. */
  #batchAt = 0;
  #nextBatchAt = 0;
  /** Cursor in `#data` and end of the current batch's records there. */
  #pos = 0;
  #end = 0;
  #recordsLeft = 0;
  #baseTimestamp = 0;
  #logAppendTime = false;

  // ---- the current batch -------------------------------------------------------------------------------------
  /** Offset of the batch's first record (as written; compaction may have removed it). */
  baseOffset = 0;
  /** Offset after the batch's last record as written: where reading continues, even when compaction emptied it. */
  nextOffset = 0;
  /** Producer id (-1 for non-idempotent producers). Exact below 2^53, which brokers allocate from 0 upwards. */
  producerId = -1;
  isTransactional = false;
  /** A control batch holds one transaction marker (COMMIT or ABORT), never data. */
  isControlBatch = false;
  /** Batch-level timestamp: the max timestamp, which is every record's timestamp under LogAppendTime. */
  maxTimestamp = 0;

  // ---- the current record ------------------------------------------------------------------------------------
  offset = 0;
  /** Create time of the record, or the broker's append time when the topic uses LogAppendTime. */
  timestamp = 0;
  #keyStart = -1;
  #keyEnd = -1;
  #valueStart = -1;
  #valueEnd = -1;
  #headersStart = 0;
  #headerCount = 0;
  #recordEnd = 0;

  private constructor(set: Buffer, inflated: ReadonlyMap<number, Buffer>) {
    this.#set = set;
    this.#data = set;
    this.#inflated = inflated;
  }

  /**
   * A reader over `records` (the RECORDS field of one partition of a Fetch response). Compressed batches are inflated
   * here, with the codec kafkajs has registered for their compression type.
   */
  static async open(records: Buffer): Promise<RecordSetReader> {
    let inflated: Map<number, Buffer> | undefined;
    for (let at = 0; ; ) {
      const end = completeBatchEnd(records, at);
      if (end < 0) break;
      const compression = records.readInt16BE(at + 21) & COMPRESSION_MASK;
      if (compression !== 0 && records.readInt32BE(at + 57) > 0) {
        inflated ??= new Map();
        inflated.set(at, await inflate(compression, records.subarray(at + BATCH_HEADER_BYTES, end), records, at));
      }
      at = end;
    }
    return new RecordSetReader(records, inflated ?? NONE_INFLATED);
  }

  /**
   * Moves to the next complete batch; false when none is left (a truncated batch at the end is left for the next
   * fetch). Records of the previous batch not read yet are skipped.
   */
  nextBatch(): boolean {
    const set = this.#set;
    const at = this.#nextBatchAt;
    const end = completeBatchEnd(set, at);
    if (end < 0) return false;
    this.#batchAt = at;
    this.#nextBatchAt = end;

    const attributes = set.readInt16BE(at + 21);
    this.baseOffset = readInt64(set, at);
    this.nextOffset = this.baseOffset + set.readInt32BE(at + 23) + 1;
    this.#baseTimestamp = readInt64(set, at + 27);
    this.maxTimestamp = readInt64(set, at + 35);
    this.producerId = readInt64(set, at + 43);
    this.isTransactional = (attributes & TRANSACTIONAL_FLAG) !== 0;
    this.isControlBatch = (attributes & CONTROL_FLAG) !== 0;
    this.#logAppendTime = (attributes & LOG_APPEND_TIME_FLAG) !== 0;
    this.#recordsLeft = set.readInt32BE(at + 57);
    const inflated = (attributes & COMPRESSION_MASK) === 0 ? undefined : this.#inflated.get(at);
    if (inflated === undefined) {
      this.#data = set;
      this.#pos = at + BATCH_HEADER_BYTES;
      this.#end = end;
      if ((attributes & COMPRESSION_MASK) !== 0) this.#recordsLeft = 0;
    } else {
      this.#data = inflated;
      this.#pos = 0;
      this.#end = inflated.length;
    }
    return true;
  }

  /** Moves to the batch's next record; false after its last. */
  nextRecord(): boolean {
    if (this.#recordsLeft <= 0) return false;
    this.#recordsLeft--;
    const length = this.#varint();
    const recordEnd = this.#pos + length;
    if (length < 0 || recordEnd > this.#end) throw corrupt(this.#set, this.#batchAt, `a record of length ${length} overruns its batch`);
    this.#pos++; // attributes: unused in format v2
    const timestampDelta = this.#varint();
    this.timestamp = this.#logAppendTime ? this.maxTimestamp : this.#baseTimestamp + timestampDelta;
    this.offset = this.baseOffset + this.#varint();
    const keyLength = this.#varint();
    if (keyLength < 0) {
      this.#keyStart = -1;
    } else {
      this.#keyStart = this.#pos;
      this.#keyEnd = this.#pos += keyLength;
    }
    const valueLength = this.#varint();
    if (valueLength < 0) {
      this.#valueStart = -1;
    } else {
      this.#valueStart = this.#pos;
      this.#valueEnd = this.#pos += valueLength;
    }
    this.#headerCount = this.#varint();
    this.#headersStart = this.#pos;
    if (this.#pos > recordEnd || this.#headerCount < 0) throw corrupt(this.#set, this.#batchAt, `record at offset ${this.offset} overruns its length`);
    // Headers are parsed only when asked for; the record's length says where the next one starts.
    this.#recordEnd = recordEnd;
    this.#pos = recordEnd;
    return true;
  }

  /** Bytes of the current record's value (a view of the fetch buffer), or null for a tombstone. */
  value(): Buffer | null {
    return this.#valueStart < 0 ? null : this.#data.subarray(this.#valueStart, this.#valueEnd);
  }

  /** The current record's value decoded as UTF-8 (without making a Buffer view first), or null for a tombstone. */
  valueString(): string | null {
    return this.#valueStart < 0 ? null : this.#data.toString('utf8', this.#valueStart, this.#valueEnd);
  }

  /** Size of the current record's value in bytes (0 for a tombstone). */
  get valueSize(): number {
    return this.#valueStart < 0 ? 0 : this.#valueEnd - this.#valueStart;
  }

  /** Bytes of the current record's key (a view of the fetch buffer), or null when it has none. */
  key(): Buffer | null {
    return this.#keyStart < 0 ? null : this.#data.subarray(this.#keyStart, this.#keyEnd);
  }

  /** Size of the current record's key in bytes (0 without one). */
  get keySize(): number {
    return this.#keyStart < 0 ? 0 : this.#keyEnd - this.#keyStart;
  }

  /**
   * The current record's headers. A key that occurs more than once maps to an array of its values in record order,
   * and a null header value stays null, as kafkajs reports them. `empty` (a shared frozen object) is returned for a
   * record without headers.
   */
  headers<H extends object>(empty: H): H | Record<string, Buffer | Buffer[] | null> {
    if (this.#headerCount === 0) return empty;
    const data = this.#data;
    const saved = this.#pos;
    this.#pos = this.#headersStart;
    const end = this.#recordEnd;
    const headers: Record<string, Buffer | Buffer[] | null> = {};
    for (let i = 0; i < this.#headerCount; i++) {
      const keyLength = this.#varint();
      const keyEnd = this.#pos + Math.max(0, keyLength);
      if (keyEnd > end) throw corrupt(this.#set, this.#batchAt, `a header of the record at offset ${this.offset} overruns the record`);
      const key = data.toString('utf8', this.#pos, keyEnd);
      this.#pos = keyEnd;
      const valueLength = this.#varint();
      if (this.#pos + Math.max(0, valueLength) > end) throw corrupt(this.#set, this.#batchAt, `a header of the record at offset ${this.offset} overruns the record`);
      const value = valueLength < 0 ? null : data.subarray(this.#pos, (this.#pos += valueLength));
      // Own properties only: a header named "constructor" or "__proto__" is a header like any other.
      if (!Object.hasOwn(headers, key)) Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true });
      else {
        const existing = headers[key];
        if (Array.isArray(existing)) existing.push(value as Buffer);
        else headers[key] = [existing as Buffer, value as Buffer];
      }
    }
    if (this.#pos > end) throw corrupt(this.#set, this.#batchAt, `the headers of the record at offset ${this.offset} overrun the record`);
    this.#pos = saved;
    return headers;
  }

  /**
   * The marker of the current control batch: `'abort'` or `'commit'` (its single record's key is version int16, then
   * type int16: 0 abort, 1 commit), or `undefined` for a control record of another type.
   */
  controlType(): 'abort' | 'commit' | undefined {
    if (!this.isControlBatch || !this.nextRecord() || this.#keyStart < 0 || this.#keyEnd - this.#keyStart < 4) return undefined;
    const type = this.#data.readInt16BE(this.#keyStart + 2);
    return type === 0 ? 'abort' : type === 1 ? 'commit' : undefined;
  }

  /**
   * A zigzag varint (Kafka's varint and varlong alike). Values beyond 28 bits, which only varlong timestamp deltas
   * reach, are accumulated in floating point: exact up to 2^53.
   */
  #varint(): number {
    const data = this.#data;
    let pos = this.#pos;
    let byte = data[pos++] as number;
    if (byte < 0x80) {
      this.#pos = pos;
      return (byte >>> 1) ^ -(byte & 1);
    }
    let raw = byte & 0x7f;
    let shift = 7;
    do {
      if (pos >= this.#end) throw corrupt(this.#set, this.#batchAt, 'a varint overruns its batch');
      byte = data[pos++] as number;
      raw |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte >= 0x80 && shift < 28);
    if (byte < 0x80) {
      this.#pos = pos;
      return (raw >>> 1) ^ -(raw & 1);
    }
    let value = raw;
    let scale = 2 ** 28;
    do {
      if (pos >= this.#end || scale > 2 ** 63) throw corrupt(this.#set, this.#batchAt, 'a varint overruns its batch');
      byte = data[pos++] as number;
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte >= 0x80);
    this.#pos = pos;
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }
}

/** baseOffset (8) + batchLength (4): the part of a batch its length does not count. */
const LOG_OVERHEAD_BYTES = 12;
/** Everything before the first record, record count included. */
const BATCH_HEADER_BYTES = 61;
const MAGIC_AT = 16;
const COMPRESSION_MASK = 0x07;
const LOG_APPEND_TIME_FLAG = 0x08;
const TRANSACTIONAL_FLAG = 0x10;
const CONTROL_FLAG = 0x20;
const NONE_INFLATED: ReadonlyMap<number, Buffer> = new Map();
const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** A big-endian int64 as a number (exact up to 2^53; offsets, timestamps and producer ids stay far below). */
function readInt64(data: Buffer, at: number): number {
  return data.readInt32BE(at) * 4_294_967_296 + data.readUInt32BE(at + 4);
}

/**
 * End of the complete batch starting at `at`, or -1 when the set ends before it does (a batch cut by the fetch's byte
 * limit, read again by the next fetch). Throws for a batch of another message format and for a length that cannot be
 * a batch's.
 */
function completeBatchEnd(set: Buffer, at: number): number {
  // The magic byte sits at the same place in every message format: read it as soon as it is there.
  if (at + MAGIC_AT >= set.length) return -1;
  checkMagic(set, at);
  const batchLength = set.readInt32BE(at + 8);
  if (batchLength < BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) throw corrupt(set, at, `batch length ${batchLength} is shorter than a batch header`);
  const end = at + LOG_OVERHEAD_BYTES + batchLength;
  return end > set.length ? -1 : end;
}

function checkMagic(set: Buffer, at: number): void {
  const magic = set.readInt8(at + MAGIC_AT);
  if (magic === 2) return;
  throw new SluiceError(
    KafkaSourceErrorCode.client,
    `records at offset ${readInt64(set, at)} are in Kafka message format v${magic}, written by a pre-0.11 producer or broker; ` +
      'the Kafka source reads format v2 only. Rewrite the topic with a current client (or set the topic\'s message.format.version to 0.11 or later and re-produce)',
    { retriable: false },
  );
}

async function inflate(compression: number, block: Buffer, set: Buffer, at: number): Promise<Buffer> {
  // kafkajs's public registry (the object jobs add snappy/lz4/zstd codecs to); named ESM imports of it do not resolve.
  const { CompressionCodecs } = createRequire(import.meta.url)('kafkajs') as { CompressionCodecs: Record<number, (() => { decompress(data: Buffer): Promise<Buffer> }) | undefined> };
  const factory = CompressionCodecs[compression];
  const name = COMPRESSION_NAMES[compression] ?? `type ${compression}`;
  if (factory === undefined) throw corrupt(set, at, `unknown compression type ${compression}`);
  try {
    return await factory().decompress(block);
  } catch (err) {
    throw new SluiceError(
      KafkaSourceErrorCode.client,
      `records at offset ${readInt64(set, at)} are ${name}-compressed and could not be decompressed (${(err as Error)?.message ?? String(err)}); ` +
        `for snappy, lz4 or zstd register a codec in kafkajs's CompressionCodecs before the job starts (see docs/connectors/kafka.md)`,
      { cause: err, retriable: false },
    );
  }
}

function corrupt(set: Buffer, at: number, what: string): SluiceError {
  const offset = at + 8 <= set.length ? readInt64(set, at) : -1;
  return new SluiceError(KafkaSourceErrorCode.client, `corrupt record batch at offset ${offset}: ${what}; the broker sent bytes that are not a Kafka record batch (check the brokers and the network path)`, { retriable: true });
}

import { SluiceError } from '../../../../runtime/errors/index.ts';
import { KafkaSourceErrorCode } from '../errors.ts';
import type { AbortedTransaction } from '../transaction-filter.ts';

/** One partition of a Fetch response, its records left undecoded (see {@link RecordSetReader}). */
export interface FetchedPartition {
  readonly topic: string;
  readonly partition: number;
  /** Kafka error code; 0 when the partition was read. */
  readonly errorCode: number;
  readonly highWatermark: number;
  /** Offset below which every transaction is decided: a read_committed fetch returns nothing beyond it. */
  readonly lastStableOffset: number;
  /** Aborted transactions overlapping the fetched range (read_committed only), in the broker's order. */
  readonly abortedTransactions: readonly AbortedTransaction[];
  /** The RECORDS field: record batches, possibly ending in a truncated one; empty when the broker sent none. */
  readonly records: Buffer;
}

export interface FetchResponse {
  /** Whole-request error code (v7+: fetch sessions); 0 otherwise. */
  readonly errorCode: number;
  readonly partitions: readonly FetchedPartition[];
}

/** Fetch versions this decoder reads: v4 (Kafka 0.11, transactions) to v11 (Kafka 2.3+). */
export const FETCH_VERSIONS = { min: 4, max: 11 } as const;

/**
 * Decodes a Fetch response body (after the correlation id) of `version` 4–11, keeping each partition's records as a
 * view of `payload`: no copy, no per-record work here.
 *
 * Layout (Kafka's FetchResponse.json): `throttle_time_ms int32`, from v7 `error_code int16, session_id int32`, then
 * `[topic string, [partition int32, error_code int16, high_watermark int64, last_stable_offset int64, from v5
 * log_start_offset int64, aborted_transactions nullable [producer_id int64, first_offset int64], from v11
 * preferred_read_replica int32, records nullable bytes]]`.
 */
export function decodeFetchResponse(payload: Buffer, version: number): FetchResponse {
  if (version < FETCH_VERSIONS.min || version > FETCH_VERSIONS.max) {
    throw new SluiceError(KafkaSourceErrorCode.client, `Fetch v${version} responses are not supported (v${FETCH_VERSIONS.min}–v${FETCH_VERSIONS.max}); the Kafka source needs Kafka 0.11 or later`, { retriable: false });
  }
  const r = new Cursor(payload);
  r.int32(); // throttle_time_ms: kafkajs's connection throttles on its own reading of it (KIP-219)
  let errorCode = 0;
  if (version >= 7) {
    errorCode = r.int16();
    r.int32(); // session_id: no fetch sessions (session_epoch -1)
  }
  const partitions: FetchedPartition[] = [];
  for (let topics = r.int32(); topics > 0; topics--) {
    const topic = r.string();
    for (let count = r.int32(); count > 0; count--) {
      const partition = r.int32();
      const partitionError = r.int16();
      const highWatermark = r.int64();
      const lastStableOffset = r.int64();
      if (version >= 5) r.int64(); // log_start_offset
      const abortedTransactions: AbortedTransaction[] = [];
      for (let n = r.int32(); n > 0; n--) abortedTransactions.push({ producerId: r.int64(), firstOffset: r.int64() });
      if (version >= 11) r.int32(); // preferred_read_replica: Sluice reads from leaders
      const records = r.bytes();
      partitions.push({ topic, partition, errorCode: partitionError, highWatermark, lastStableOffset, abortedTransactions, records });
    }
  }
  return { errorCode, partitions };
}

const EMPTY = Buffer.alloc(0);

/** Big-endian reads over a response body; every read is bounds-checked by Buffer itself (RangeError on overrun). */
class Cursor {
  readonly #data: Buffer;
  #pos = 0;

  constructor(data: Buffer) {
    this.#data = data;
  }

  int16(): number {
    const v = this.#data.readInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  int32(): number {
    const v = this.#data.readInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  /** Exact up to 2^53: offsets, and producer ids, which brokers allocate from 0 upwards. */
  int64(): number {
    const v = this.#data.readInt32BE(this.#pos) * 4_294_967_296 + this.#data.readUInt32BE(this.#pos + 4);
    this.#pos += 8;
    return v;
  }

  string(): string {
    const length = this.int16();
    if (length < 0) return '';
    this.#checkRoom(length);
    return this.#data.toString('utf8', this.#pos, (this.#pos += length));
  }

  bytes(): Buffer {
    const length = this.int32();
    if (length <= 0) return EMPTY;
    this.#checkRoom(length);
    return this.#data.subarray(this.#pos, (this.#pos += length));
  }

  #checkRoom(length: number): void {
    if (this.#pos + length > this.#data.length) throw new RangeError(`Fetch response truncated: ${length} bytes announced at ${this.#pos}, ${this.#data.length - this.#pos} left`);
  }
}

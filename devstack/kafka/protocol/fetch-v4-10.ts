import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * Fetch Request (Version: 4-10) => replica_id max_wait_ms min_bytes max_bytes isolation_level
 *                                  session_id(v7+) session_epoch(v7+) [topics] [forgotten_topics_data](v7+)
 *   replica_id => INT32, max_wait_ms => INT32, min_bytes => INT32, max_bytes => INT32, isolation_level => INT8
 *   session_id => INT32, session_epoch => INT32
 *   topics => topic [partitions]
 *     partitions => partition current_leader_epoch(v9+) fetch_offset log_start_offset(v5+) partition_max_bytes
 *       partition => INT32, current_leader_epoch => INT32, fetch_offset => INT64, log_start_offset => INT64,
 *       partition_max_bytes => INT32
 *   forgotten_topics_data => topic [partitions => INT32]
 *
 * Fetch Response (Version: 4-10) => throttle_time_ms error_code(v7+) session_id(v7+) [responses]
 *   responses => topic [partitions]
 *     partitions => partition error_code high_watermark last_stable_offset log_start_offset(v5+)
 *                   [aborted_transactions] records
 *       aborted_transactions => producer_id INT64, first_offset INT64 (nullable array)
 *       records => RECORDS (concatenated record batches)
 *
 * Fetch sessions (KIP-227) are not supported: the broker answers session_id 0, which tells the client to keep
 * sending full fetch requests, exactly as a broker with no free session slots would.
 */
export interface FetchPartitionRequest {
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
}

export interface FetchRequest {
  replicaId: number;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  topics: { name: string; partitions: FetchPartitionRequest[] }[];
}

export interface AbortedTransaction {
  producerId: number;
  firstOffset: number;
}

export interface FetchPartitionResponse {
  partition: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  abortedTransactions: AbortedTransaction[] | null;
  /** Whole record batches, written back to back. */
  batches: Buffer[];
}

export interface FetchResponse {
  errorCode: number;
  topics: { name: string; partitions: FetchPartitionResponse[] }[];
}

export const fetchApi: ApiCodec<FetchRequest, FetchResponse> = {
  key: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 10,
  decodeRequest(r: Reader, version: number): FetchRequest {
    const replicaId = r.int32();
    const maxWaitMs = r.int32();
    const minBytes = r.int32();
    const maxBytes = r.int32();
    const isolationLevel = r.int8();
    if (version >= 7) {
      r.int32(); // session_id
      r.int32(); // session_epoch
    }
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r): FetchPartitionRequest => {
        const partition = r.int32();
        if (version >= 9) r.int32(); // current_leader_epoch
        const fetchOffset = r.int64();
        if (version >= 5) r.int64(); // log_start_offset (only followers send a real one)
        return { partition, fetchOffset, partitionMaxBytes: r.int32() };
      }),
    }));
    if (version >= 7) r.array((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) }));
    return { replicaId, maxWaitMs, minBytes, maxBytes, isolationLevel, topics };
  },
  encodeResponse(w: Writer, res: FetchResponse, version: number): void {
    w.int32(0);
    if (version >= 7) w.int16(res.errorCode).int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark).int64(p.lastStableOffset);
        if (version >= 5) w.int64(p.logStartOffset);
        w.nullableArray(p.abortedTransactions, (w, a) => w.int64(a.producerId).int64(a.firstOffset));
        w.bytesList(p.batches);
      });
    });
  },
  errorResponse(req, errorCode) {
    return {
      errorCode: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          errorCode,
          highWatermark: -1,
          lastStableOffset: -1,
          logStartOffset: -1,
          abortedTransactions: null,
          batches: [],
        })),
      })),
    };
  },
};

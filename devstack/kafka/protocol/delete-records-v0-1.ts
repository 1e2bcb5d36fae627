import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * DeleteRecords Request (Version: 0-1) => [topics] timeout_ms
 *   topics => name STRING [partitions => partition_index INT32, offset INT64]
 *   timeout_ms => INT32
 * DeleteRecords Response (Version: 0-1) => throttle_time_ms [topics]
 *   topics => name STRING [partitions => partition_index INT32, low_watermark INT64, error_code INT16]
 *
 * Version 1 is the same on the wire (it only changed throttling behaviour, KIP-219).
 */
export interface DeleteRecordsRequest {
  topics: { name: string; partitions: { partition: number; offset: number }[] }[];
  timeoutMs: number;
}

export interface DeleteRecordsResponse {
  topics: { name: string; partitions: { partition: number; lowWatermark: number; errorCode: number }[] }[];
}

export const deleteRecordsApi: ApiCodec<DeleteRecordsRequest, DeleteRecordsResponse> = {
  key: 21,
  name: 'DeleteRecords',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r: Reader): DeleteRecordsRequest {
    const topics = r.array((r) => ({ name: r.string(), partitions: r.array((r) => ({ partition: r.int32(), offset: r.int64() })) }));
    return { topics, timeoutMs: r.int32() };
  },
  encodeResponse(w: Writer, res: DeleteRecordsResponse): void {
    w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.partition).int64(p.lowWatermark).int16(p.errorCode));
    });
  },
  errorResponse(req, errorCode) {
    return { topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partition: p.partition, lowWatermark: -1, errorCode })) })) };
  },
};

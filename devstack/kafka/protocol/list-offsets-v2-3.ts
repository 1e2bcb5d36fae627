import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * ListOffsets Request (Version: 2-3) => replica_id isolation_level [topics]
 *   replica_id => INT32, isolation_level => INT8
 *   topics => topic [partitions => partition INT32, timestamp INT64]
 *     timestamp: -1 latest, -2 earliest, otherwise the first offset whose timestamp is >= it
 *
 * ListOffsets Response (Version: 2-3) => throttle_time_ms [responses]
 *   responses => topic [partition_responses]
 *     partition_responses => partition INT32, error_code INT16, timestamp INT64, offset INT64
 *
 * v3 only changes throttling behaviour.
 */
export interface ListOffsetsRequest {
  replicaId: number;
  isolationLevel: number;
  topics: { name: string; partitions: { partition: number; timestamp: number }[] }[];
}

export interface ListOffsetsPartitionResponse {
  partition: number;
  errorCode: number;
  timestamp: number;
  offset: number;
}

export interface ListOffsetsResponse {
  topics: { name: string; partitions: ListOffsetsPartitionResponse[] }[];
}

export const listOffsetsApi: ApiCodec<ListOffsetsRequest, ListOffsetsResponse> = {
  key: 2,
  name: 'ListOffsets',
  minVersion: 2,
  maxVersion: 3,
  decodeRequest(r: Reader): ListOffsetsRequest {
    return {
      replicaId: r.int32(),
      isolationLevel: r.int8(),
      topics: r.array((r) => ({
        name: r.string(),
        partitions: r.array((r) => ({ partition: r.int32(), timestamp: r.int64() })),
      })),
    };
  },
  encodeResponse(w: Writer, res: ListOffsetsResponse): void {
    w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode).int64(p.timestamp).int64(p.offset));
    });
  },
  errorResponse(req, errorCode) {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode, timestamp: -1, offset: -1 })),
      })),
    };
  },
};

import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * OffsetFetch Request (Version: 2-4) => group_id [topics]
 *   topics => topic STRING, [partitions INT32]   (nullable array: null = every partition the group committed)
 *
 * OffsetFetch Response (Version: 2-4) => throttle_time_ms(v3+) [responses] error_code
 *   responses => topic [partition_responses => partition INT32, offset INT64, metadata NULLABLE_STRING,
 *                                              error_code INT16]
 *   error_code => INT16
 *
 * A partition without a committed offset answers offset -1, metadata "" and no error.
 */
export interface OffsetFetchRequest {
  groupId: string;
  topics: { name: string; partitions: number[] }[] | null;
}

export interface OffsetFetchPartition {
  partition: number;
  offset: number;
  metadata: string | null;
  errorCode: number;
}

export interface OffsetFetchResponse {
  errorCode: number;
  topics: { name: string; partitions: OffsetFetchPartition[] }[];
}

export const offsetFetchApi: ApiCodec<OffsetFetchRequest, OffsetFetchResponse> = {
  key: 9,
  name: 'OffsetFetch',
  minVersion: 2,
  maxVersion: 4,
  decodeRequest(r: Reader): OffsetFetchRequest {
    return {
      groupId: r.string(),
      topics: r.nullableArray((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) })),
    };
  },
  encodeResponse(w: Writer, res: OffsetFetchResponse, version: number): void {
    if (version >= 3) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) =>
        w.int32(p.partition).int64(p.offset).nullableString(p.metadata).int16(p.errorCode),
      );
    });
    w.int16(res.errorCode);
  },
  errorResponse(_req, errorCode) {
    return { errorCode, topics: [] };
  },
};

import type { ApiCodec } from './api-codec.ts';
import type { TopicResult } from './create-topics-v2-3.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * CreatePartitions Request (Version: 0-1) => [topics] timeout_ms validate_only
 *   topics => name STRING, count INT32, [assignments => [broker_ids INT32]] (nullable array)
 *   timeout_ms => INT32, validate_only => BOOLEAN
 *
 * CreatePartitions Response (Version: 0-1) => throttle_time_ms [results => name STRING, error_code INT16,
 *                                                                           error_message NULLABLE_STRING]
 */
export interface CreatePartitionsRequest {
  topics: { name: string; count: number; assignments: number[][] | null }[];
  timeoutMs: number;
  validateOnly: boolean;
}

export interface CreatePartitionsResponse {
  results: TopicResult[];
}

export const createPartitionsApi: ApiCodec<CreatePartitionsRequest, CreatePartitionsResponse> = {
  key: 37,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r: Reader): CreatePartitionsRequest {
    return {
      topics: r.array((r) => ({
        name: r.string(),
        count: r.int32(),
        assignments: r.nullableArray((r) => r.array((r) => r.int32())),
      })),
      timeoutMs: r.int32(),
      validateOnly: r.boolean(),
    };
  },
  encodeResponse(w: Writer, res: CreatePartitionsResponse): void {
    w.int32(0);
    w.array(res.results, (w, t) => w.string(t.name).int16(t.errorCode).nullableString(t.errorMessage));
  },
  errorResponse(req, errorCode) {
    return { results: req.topics.map((t) => ({ name: t.name, errorCode, errorMessage: null })) };
  },
};

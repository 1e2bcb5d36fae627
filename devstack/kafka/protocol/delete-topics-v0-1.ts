import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * DeleteTopics Request (Version: 0-1) => [topic_names STRING] timeout_ms INT32
 * DeleteTopics Response (Version: 0-1) => throttle_time_ms(v1+) [responses => name STRING, error_code INT16]
 */
export interface DeleteTopicsRequest {
  names: string[];
  timeoutMs: number;
}

export interface DeleteTopicsResponse {
  topics: { name: string; errorCode: number }[];
}

export const deleteTopicsApi: ApiCodec<DeleteTopicsRequest, DeleteTopicsResponse> = {
  key: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r: Reader): DeleteTopicsRequest {
    return { names: r.array((r) => r.string()), timeoutMs: r.int32() };
  },
  encodeResponse(w: Writer, res: DeleteTopicsResponse, version: number): void {
    if (version >= 1) w.int32(0);
    w.array(res.topics, (w, t) => w.string(t.name).int16(t.errorCode));
  },
  errorResponse(req, errorCode) {
    return { topics: req.names.map((name) => ({ name, errorCode })) };
  },
};

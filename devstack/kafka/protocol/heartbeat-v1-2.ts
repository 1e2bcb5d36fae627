import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * Heartbeat Request (Version: 1-2) => group_id STRING, generation_id INT32, member_id STRING
 * Heartbeat Response (Version: 1-2) => throttle_time_ms INT32, error_code INT16
 */
export interface HeartbeatRequest {
  groupId: string;
  generationId: number;
  memberId: string;
}

export interface ErrorOnlyResponse {
  errorCode: number;
}

export const heartbeatApi: ApiCodec<HeartbeatRequest, ErrorOnlyResponse> = {
  key: 12,
  name: 'Heartbeat',
  minVersion: 1,
  maxVersion: 2,
  decodeRequest(r: Reader): HeartbeatRequest {
    return { groupId: r.string(), generationId: r.int32(), memberId: r.string() };
  },
  encodeResponse(w: Writer, res: ErrorOnlyResponse): void {
    w.int32(0).int16(res.errorCode);
  },
  errorResponse(_req, errorCode) {
    return { errorCode };
  },
};

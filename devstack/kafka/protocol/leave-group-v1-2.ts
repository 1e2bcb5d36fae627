import type { ApiCodec } from './api-codec.ts';
import type { ErrorOnlyResponse } from './heartbeat-v1-2.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * LeaveGroup Request (Version: 1-2) => group_id STRING, member_id STRING
 * LeaveGroup Response (Version: 1-2) => throttle_time_ms INT32, error_code INT16
 */
export interface LeaveGroupRequest {
  groupId: string;
  memberId: string;
}

export const leaveGroupApi: ApiCodec<LeaveGroupRequest, ErrorOnlyResponse> = {
  key: 13,
  name: 'LeaveGroup',
  minVersion: 1,
  maxVersion: 2,
  decodeRequest(r: Reader): LeaveGroupRequest {
    return { groupId: r.string(), memberId: r.string() };
  },
  encodeResponse(w: Writer, res: ErrorOnlyResponse): void {
    w.int32(0).int16(res.errorCode);
  },
  errorResponse(_req, errorCode) {
    return { errorCode };
  },
};

import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * SyncGroup Request (Version: 1-2) => group_id generation_id member_id [assignments]
 *   group_id => STRING, generation_id => INT32, member_id => STRING
 *   assignments => member_id STRING, assignment BYTES (sent by the leader only; opaque to the broker)
 *
 * SyncGroup Response (Version: 1-2) => throttle_time_ms INT32, error_code INT16, assignment BYTES
 */
export interface SyncGroupRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface SyncGroupResponse {
  errorCode: number;
  assignment: Buffer;
}

const EMPTY = Buffer.alloc(0);

export const syncGroupApi: ApiCodec<SyncGroupRequest, SyncGroupResponse> = {
  key: 14,
  name: 'SyncGroup',
  minVersion: 1,
  maxVersion: 2,
  decodeRequest(r: Reader): SyncGroupRequest {
    return {
      groupId: r.string(),
      generationId: r.int32(),
      memberId: r.string(),
      assignments: r.array((r) => ({ memberId: r.string(), assignment: Buffer.from(r.bytes()) })),
    };
  },
  encodeResponse(w: Writer, res: SyncGroupResponse): void {
    w.int32(0).int16(res.errorCode).bytes(res.assignment);
  },
  errorResponse(_req, errorCode) {
    return { errorCode, assignment: EMPTY };
  },
};

import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * JoinGroup Request (Version: 2-3) => group_id session_timeout_ms rebalance_timeout_ms member_id protocol_type
 *                                     [protocols]
 *   group_id => STRING, session_timeout_ms => INT32, rebalance_timeout_ms => INT32, member_id => STRING
 *   protocol_type => STRING
 *   protocols => name STRING, metadata BYTES (opaque to the broker)
 *
 * JoinGroup Response (Version: 2-3) => throttle_time_ms error_code generation_id protocol_name leader member_id
 *                                      [members]
 *   members => member_id STRING, metadata BYTES   (only the leader receives them)
 */
export interface JoinGroupRequest {
  groupId: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  memberId: string;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
}

export interface JoinGroupResponse {
  errorCode: number;
  generationId: number;
  protocolName: string;
  leader: string;
  memberId: string;
  members: { memberId: string; metadata: Buffer }[];
}

export const joinGroupApi: ApiCodec<JoinGroupRequest, JoinGroupResponse> = {
  key: 11,
  name: 'JoinGroup',
  minVersion: 2,
  maxVersion: 3,
  decodeRequest(r: Reader): JoinGroupRequest {
    return {
      groupId: r.string(),
      sessionTimeoutMs: r.int32(),
      rebalanceTimeoutMs: r.int32(),
      memberId: r.string(),
      protocolType: r.string(),
      // Copied: the request frame is released once decoded, the metadata lives as long as the member.
      protocols: r.array((r) => ({ name: r.string(), metadata: Buffer.from(r.bytes()) })),
    };
  },
  encodeResponse(w: Writer, res: JoinGroupResponse): void {
    w.int32(0).int16(res.errorCode).int32(res.generationId).string(res.protocolName).string(res.leader);
    w.string(res.memberId);
    w.array(res.members, (w, m) => w.string(m.memberId).bytes(m.metadata));
  },
  errorResponse(req, errorCode) {
    return { errorCode, generationId: -1, protocolName: '', leader: '', memberId: req.memberId, members: [] };
  },
};

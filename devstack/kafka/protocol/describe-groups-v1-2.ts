import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * DescribeGroups Request (Version: 1-2) => [group_ids STRING]
 *
 * DescribeGroups Response (Version: 1-2) => throttle_time_ms [groups]
 *   groups => error_code INT16, group_id STRING, state STRING, protocol_type STRING, protocol STRING, [members]
 *     members => member_id STRING, client_id STRING, client_host STRING, member_metadata BYTES,
 *                member_assignment BYTES
 *
 * state is one of Empty, PreparingRebalance, CompletingRebalance, Stable, Dead (an unknown group is "Dead").
 */
export interface DescribeGroupsRequest {
  groupIds: string[];
}

export interface DescribedMember {
  memberId: string;
  clientId: string;
  clientHost: string;
  metadata: Buffer;
  assignment: Buffer;
}

export interface DescribedGroup {
  errorCode: number;
  groupId: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: DescribedMember[];
}

export interface DescribeGroupsResponse {
  groups: DescribedGroup[];
}

export const describeGroupsApi: ApiCodec<DescribeGroupsRequest, DescribeGroupsResponse> = {
  key: 15,
  name: 'DescribeGroups',
  minVersion: 1,
  maxVersion: 2,
  decodeRequest(r: Reader): DescribeGroupsRequest {
    return { groupIds: r.array((r) => r.string()) };
  },
  encodeResponse(w: Writer, res: DescribeGroupsResponse): void {
    w.int32(0);
    w.array(res.groups, (w, g) => {
      w.int16(g.errorCode).string(g.groupId).string(g.state).string(g.protocolType).string(g.protocol);
      w.array(g.members, (w, m) =>
        w.string(m.memberId).string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment),
      );
    });
  },
  errorResponse(req, errorCode) {
    return {
      groups: req.groupIds.map((groupId) => ({
        errorCode,
        groupId,
        state: '',
        protocolType: '',
        protocol: '',
        members: [],
      })),
    };
  },
};

import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * ListGroups Request (Version: 1-2) => (empty)
 * ListGroups Response (Version: 1-2) => throttle_time_ms INT32, error_code INT16,
 *                                       [groups => group_id STRING, protocol_type STRING]
 */
export type ListGroupsRequest = Record<string, never>;

export interface ListGroupsResponse {
  errorCode: number;
  groups: { groupId: string; protocolType: string }[];
}

export const listGroupsApi: ApiCodec<ListGroupsRequest, ListGroupsResponse> = {
  key: 16,
  name: 'ListGroups',
  minVersion: 1,
  maxVersion: 2,
  decodeRequest(_r: Reader): ListGroupsRequest {
    return {};
  },
  encodeResponse(w: Writer, res: ListGroupsResponse): void {
    w.int32(0).int16(res.errorCode);
    w.array(res.groups, (w, g) => w.string(g.groupId).string(g.protocolType));
  },
  errorResponse(_req, errorCode) {
    return { errorCode, groups: [] };
  },
};

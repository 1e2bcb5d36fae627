import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * DeleteGroups Request (Version: 0-1) => [groups_names STRING]
 * DeleteGroups Response (Version: 0-1) => throttle_time_ms [results => group_id STRING, error_code INT16]
 */
export interface DeleteGroupsRequest {
  groupIds: string[];
}

export interface DeleteGroupsResponse {
  results: { groupId: string; errorCode: number }[];
}

export const deleteGroupsApi: ApiCodec<DeleteGroupsRequest, DeleteGroupsResponse> = {
  key: 42,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r: Reader): DeleteGroupsRequest {
    return { groupIds: r.array((r) => r.string()) };
  },
  encodeResponse(w: Writer, res: DeleteGroupsResponse): void {
    w.int32(0);
    w.array(res.results, (w, g) => w.string(g.groupId).int16(g.errorCode));
  },
  errorResponse(req, errorCode) {
    return { results: req.groupIds.map((groupId) => ({ groupId, errorCode })) };
  },
};

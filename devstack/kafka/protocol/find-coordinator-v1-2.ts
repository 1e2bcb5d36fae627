import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * FindCoordinator Request (Version: 1-2) => key STRING, key_type INT8 (0 group, 1 transaction)
 *
 * FindCoordinator Response (Version: 1-2) => throttle_time_ms error_code error_message node_id host port
 *   error_code => INT16, error_message => NULLABLE_STRING, node_id => INT32, host => STRING, port => INT32
 */
export interface FindCoordinatorRequest {
  key: string;
  keyType: number;
}

export interface FindCoordinatorResponse {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

export const findCoordinatorApi: ApiCodec<FindCoordinatorRequest, FindCoordinatorResponse> = {
  key: 10,
  name: 'FindCoordinator',
  minVersion: 1,
  maxVersion: 2,
  decodeRequest(r: Reader): FindCoordinatorRequest {
    return { key: r.string(), keyType: r.int8() };
  },
  encodeResponse(w: Writer, res: FindCoordinatorResponse): void {
    w.int32(0).int16(res.errorCode).nullableString(res.errorMessage).int32(res.nodeId).string(res.host).int32(res.port);
  },
  errorResponse(_req, errorCode) {
    return { errorCode, errorMessage: null, nodeId: -1, host: '', port: -1 };
  },
};

import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * ApiVersions Request (Version: 0-2) => (empty)
 *
 * ApiVersions Response (Version: 0) => error_code [api_versions]
 * ApiVersions Response (Version: 1-2) => error_code [api_versions] throttle_time_ms
 *   error_code => INT16
 *   api_versions => api_key min_version max_version (INT16 each)
 *   throttle_time_ms => INT32
 *
 * A request for an unsupported ApiVersions version is answered in the v0 shape with error 35, as Kafka does, so a
 * client can retry with a lower version.
 */
export type ApiVersionsRequest = Record<string, never>;

export interface ApiVersionRange {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

export interface ApiVersionsResponse {
  errorCode: number;
  apiVersions: ApiVersionRange[];
}

export const apiVersionsApi: ApiCodec<ApiVersionsRequest, ApiVersionsResponse> = {
  key: 18,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 2,
  decodeRequest(_r: Reader): ApiVersionsRequest {
    return {};
  },
  encodeResponse(w: Writer, res: ApiVersionsResponse, version: number): void {
    w.int16(res.errorCode);
    w.array(res.apiVersions, (w, a) => w.int16(a.apiKey).int16(a.minVersion).int16(a.maxVersion));
    if (version >= 1) w.int32(0);
  },
  errorResponse(_req, errorCode) {
    return { errorCode, apiVersions: [] };
  },
};

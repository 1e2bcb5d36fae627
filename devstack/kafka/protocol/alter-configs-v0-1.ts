import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * AlterConfigs Request (Version: 0-1) => [resources] validate_only
 *   resources => resource_type INT8 (2 topic, 4 broker), resource_name STRING,
 *                [config_entries => config_name STRING, config_value NULLABLE_STRING]
 *   validate_only => BOOLEAN
 * AlterConfigs Response (Version: 0-1) => throttle_time_ms
 *   [resources => error_code INT16, error_message NULLABLE_STRING, resource_type INT8, resource_name STRING]
 *
 * Not incremental: a topic's dynamic configs become exactly the entries given (KIP-339's IncrementalAlterConfigs
 * came in 2.3). Version 1 is the same on the wire.
 */
export interface AlterConfigsRequest {
  resources: { resourceType: number; resourceName: string; entries: { name: string; value: string | null }[] }[];
  validateOnly: boolean;
}

export interface AlterConfigsResponse {
  resources: { errorCode: number; errorMessage: string | null; resourceType: number; resourceName: string }[];
}

export const alterConfigsApi: ApiCodec<AlterConfigsRequest, AlterConfigsResponse> = {
  key: 33,
  name: 'AlterConfigs',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r: Reader): AlterConfigsRequest {
    const resources = r.array((r) => ({
      resourceType: r.int8(),
      resourceName: r.string(),
      entries: r.array((r) => ({ name: r.string(), value: r.nullableString() })),
    }));
    return { resources, validateOnly: r.boolean() };
  },
  encodeResponse(w: Writer, res: AlterConfigsResponse): void {
    w.int32(0);
    w.array(res.resources, (w, x) => w.int16(x.errorCode).nullableString(x.errorMessage).int8(x.resourceType).string(x.resourceName));
  },
  errorResponse(req, errorCode) {
    return { resources: req.resources.map((x) => ({ errorCode, errorMessage: null, resourceType: x.resourceType, resourceName: x.resourceName })) };
  },
};

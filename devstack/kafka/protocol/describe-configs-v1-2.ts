import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * DescribeConfigs Request (Version: 1-2) => [resources] include_synonyms
 *   resources => resource_type INT8 (2 topic, 4 broker), resource_name STRING,
 *                configuration_keys (nullable array of STRING: null = all)
 *   include_synonyms => BOOLEAN
 *
 * DescribeConfigs Response (Version: 1-2) => throttle_time_ms [results]
 *   results => error_code INT16, error_message NULLABLE_STRING, resource_type INT8, resource_name STRING, [configs]
 *     configs => name STRING, value NULLABLE_STRING, read_only BOOLEAN, config_source INT8, is_sensitive BOOLEAN,
 *                [synonyms => name STRING, value NULLABLE_STRING, source INT8]
 *
 * config_source: 1 dynamic topic config, 4 static broker config, 5 default.
 */
export interface DescribeConfigsRequest {
  resources: { resourceType: number; resourceName: string; configNames: string[] | null }[];
  includeSynonyms: boolean;
}

export interface DescribedConfig {
  name: string;
  value: string | null;
  readOnly: boolean;
  source: number;
  isSensitive: boolean;
  synonyms: { name: string; value: string | null; source: number }[];
}

export interface DescribeConfigsResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
  configs: DescribedConfig[];
}

export interface DescribeConfigsResponse {
  results: DescribeConfigsResult[];
}

export const describeConfigsApi: ApiCodec<DescribeConfigsRequest, DescribeConfigsResponse> = {
  key: 32,
  name: 'DescribeConfigs',
  minVersion: 1,
  maxVersion: 2,
  decodeRequest(r: Reader): DescribeConfigsRequest {
    return {
      resources: r.array((r) => ({
        resourceType: r.int8(),
        resourceName: r.string(),
        configNames: r.nullableArray((r) => r.string()),
      })),
      includeSynonyms: r.boolean(),
    };
  },
  encodeResponse(w: Writer, res: DescribeConfigsResponse): void {
    w.int32(0);
    w.array(res.results, (w, x) => {
      w.int16(x.errorCode).nullableString(x.errorMessage).int8(x.resourceType).string(x.resourceName);
      w.array(x.configs, (w, c) => {
        w.string(c.name).nullableString(c.value).boolean(c.readOnly).int8(c.source).boolean(c.isSensitive);
        w.array(c.synonyms, (w, s) => w.string(s.name).nullableString(s.value).int8(s.source));
      });
    });
  },
  errorResponse(req, errorCode) {
    return {
      results: req.resources.map((x) => ({
        errorCode,
        errorMessage: null,
        resourceType: x.resourceType,
        resourceName: x.resourceName,
        configs: [],
      })),
    };
  },
};

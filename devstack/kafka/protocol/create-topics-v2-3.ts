import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * CreateTopics Request (Version: 2-3) => [topics] timeout_ms validate_only
 *   topics => name STRING, num_partitions INT32, replication_factor INT16, [assignments], [configs]
 *     assignments => partition_index INT32, [broker_ids INT32]
 *     configs => name STRING, value NULLABLE_STRING
 *   timeout_ms => INT32, validate_only => BOOLEAN
 *
 * CreateTopics Response (Version: 2-3) => throttle_time_ms [topics => name STRING, error_code INT16,
 *                                                                      error_message NULLABLE_STRING]
 *
 * Before v4 (Kafka 2.4, KIP-464) -1 is not a valid partition count or replication factor.
 */
export interface CreatableTopic {
  name: string;
  numPartitions: number;
  replicationFactor: number;
  assignments: { partition: number; brokerIds: number[] }[];
  configs: { name: string; value: string | null }[];
}

export interface CreateTopicsRequest {
  topics: CreatableTopic[];
  timeoutMs: number;
  validateOnly: boolean;
}

export interface TopicResult {
  name: string;
  errorCode: number;
  errorMessage: string | null;
}

export interface CreateTopicsResponse {
  topics: TopicResult[];
}

export const createTopicsApi: ApiCodec<CreateTopicsRequest, CreateTopicsResponse> = {
  key: 19,
  name: 'CreateTopics',
  minVersion: 2,
  maxVersion: 3,
  decodeRequest(r: Reader): CreateTopicsRequest {
    return {
      topics: r.array((r) => ({
        name: r.string(),
        numPartitions: r.int32(),
        replicationFactor: r.int16(),
        assignments: r.array((r) => ({ partition: r.int32(), brokerIds: r.array((r) => r.int32()) })),
        configs: r.array((r) => ({ name: r.string(), value: r.nullableString() })),
      })),
      timeoutMs: r.int32(),
      validateOnly: r.boolean(),
    };
  },
  encodeResponse(w: Writer, res: CreateTopicsResponse): void {
    w.int32(0);
    w.array(res.topics, (w, t) => w.string(t.name).int16(t.errorCode).nullableString(t.errorMessage));
  },
  errorResponse(req, errorCode) {
    return { topics: req.topics.map((t) => ({ name: t.name, errorCode, errorMessage: null })) };
  },
};

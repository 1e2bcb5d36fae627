import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * Metadata Request (Version: 1-6) => [topics] allow_auto_topic_creation(v4+)
 *   topics => STRING (nullable array: null = all topics, [] = none)
 *   allow_auto_topic_creation => BOOLEAN (before v4: always true)
 *
 * Metadata Response (Version: 1-6) => throttle_time_ms(v3+) [brokers] cluster_id(v2+) controller_id [topic_metadata]
 *   brokers => node_id INT32, host STRING, port INT32, rack NULLABLE_STRING
 *   cluster_id => NULLABLE_STRING
 *   controller_id => INT32
 *   topic_metadata => error_code INT16, topic STRING, is_internal BOOLEAN, [partition_metadata]
 *     partition_metadata => error_code INT16, partition INT32, leader INT32, [replicas INT32], [isr INT32],
 *                           [offline_replicas INT32](v5+)
 */
export interface MetadataRequest {
  topics: string[] | null;
  allowAutoTopicCreation: boolean;
}

export interface MetadataBroker {
  nodeId: number;
  host: string;
  port: number;
}

export interface MetadataPartition {
  errorCode: number;
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

export interface MetadataTopic {
  errorCode: number;
  name: string;
  isInternal: boolean;
  partitions: MetadataPartition[];
}

export interface MetadataResponse {
  brokers: MetadataBroker[];
  clusterId: string | null;
  controllerId: number;
  topics: MetadataTopic[];
}

const int32Item = (w: Writer, v: number): void => void w.int32(v);

export const metadataApi: ApiCodec<MetadataRequest, MetadataResponse> = {
  key: 3,
  name: 'Metadata',
  minVersion: 1,
  maxVersion: 6,
  decodeRequest(r: Reader, version: number): MetadataRequest {
    const topics = r.nullableArray((r) => r.string());
    const allowAutoTopicCreation = version >= 4 ? r.boolean() : true;
    return { topics, allowAutoTopicCreation };
  },
  encodeResponse(w: Writer, res: MetadataResponse, version: number): void {
    if (version >= 3) w.int32(0);
    w.array(res.brokers, (w, b) => w.int32(b.nodeId).string(b.host).int32(b.port).nullableString(null));
    if (version >= 2) w.nullableString(res.clusterId);
    w.int32(res.controllerId);
    w.array(res.topics, (w, t) => {
      w.int16(t.errorCode).string(t.name).boolean(t.isInternal);
      w.array(t.partitions, (w, p) => {
        w.int16(p.errorCode).int32(p.partition).int32(p.leader);
        w.array(p.replicas, int32Item).array(p.isr, int32Item);
        if (version >= 5) w.int32(0);
      });
    });
  },
  errorResponse(req, errorCode) {
    return {
      brokers: [],
      clusterId: null,
      controllerId: -1,
      topics: (req.topics ?? []).map((name) => ({ errorCode, name, isInternal: false, partitions: [] })),
    };
  },
};

import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * Produce Request (Version: 3-7) => transactional_id acks timeout_ms [topic_data]
 *   transactional_id => NULLABLE_STRING
 *   acks => INT16
 *   timeout_ms => INT32
 *   topic_data => topic [data]
 *     topic => STRING
 *     data => partition record_set
 *       partition => INT32
 *       record_set => RECORDS (BYTES holding magic-2 record batches)
 *
 * Produce Response (Version: 3-7) => [responses] throttle_time_ms     (throttle comes last in Produce)
 *   responses => topic [partition_responses]
 *     partition_responses => partition error_code base_offset log_append_time log_start_offset(v5+)
 *       partition => INT32, error_code => INT16, base_offset => INT64, log_append_time => INT64,
 *       log_start_offset => INT64
 *   throttle_time_ms => INT32
 *
 * v4 adds KAFKA_STORAGE_ERROR to the possible errors, v6 and v7 change nothing on the wire.
 */
export interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topics: { name: string; partitions: { partition: number; records: Buffer | null }[] }[];
}

export interface ProducePartitionResponse {
  partition: number;
  errorCode: number;
  baseOffset: number;
  logAppendTime: number;
  logStartOffset: number;
}

export interface ProduceResponse {
  topics: { name: string; partitions: ProducePartitionResponse[] }[];
}

export const produceApi: ApiCodec<ProduceRequest, ProduceResponse> = {
  key: 0,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 7,
  decodeRequest(r: Reader): ProduceRequest {
    return {
      transactionalId: r.nullableString(),
      acks: r.int16(),
      timeoutMs: r.int32(),
      topics: r.array((r) => ({
        name: r.string(),
        partitions: r.array((r) => ({ partition: r.int32(), records: r.nullableBytes() })),
      })),
    };
  },
  encodeResponse(w: Writer, res: ProduceResponse, version: number): void {
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => {
        w.int32(p.partition).int16(p.errorCode).int64(p.baseOffset).int64(p.logAppendTime);
        if (version >= 5) w.int64(p.logStartOffset);
      });
    });
    w.int32(0);
  },
  errorResponse(req, errorCode) {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          errorCode,
          baseOffset: -1,
          logAppendTime: -1,
          logStartOffset: -1,
        })),
      })),
    };
  },
};

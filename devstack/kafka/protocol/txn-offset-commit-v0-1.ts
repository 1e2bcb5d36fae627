import type { ApiCodec } from './api-codec.ts';
import type { OffsetCommitPartition, OffsetCommitResponse } from './offset-commit-v2-5.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * TxnOffsetCommit Request (Version: 0-1) => transactional_id STRING, group_id STRING, producer_id INT64,
 *                                           producer_epoch INT16,
 *                                           [topics => name STRING, [partitions => partition INT32,
 *                                                                      offset INT64, metadata NULLABLE_STRING]]
 * TxnOffsetCommit Response (Version: 0-1) => throttle_time_ms [topics => name STRING,
 *                                                             [partitions => partition INT32, error_code INT16]]
 */
export interface TxnOffsetCommitRequest {
  transactionalId: string;
  groupId: string;
  producerId: number;
  producerEpoch: number;
  topics: { name: string; partitions: OffsetCommitPartition[] }[];
}

export const txnOffsetCommitApi: ApiCodec<TxnOffsetCommitRequest, OffsetCommitResponse> = {
  key: 28,
  name: 'TxnOffsetCommit',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r: Reader): TxnOffsetCommitRequest {
    return {
      transactionalId: r.string(),
      groupId: r.string(),
      producerId: r.int64(),
      producerEpoch: r.int16(),
      topics: r.array((r) => ({
        name: r.string(),
        partitions: r.array((r) => ({ partition: r.int32(), offset: r.int64(), metadata: r.nullableString() })),
      })),
    };
  },
  encodeResponse(w: Writer, res: OffsetCommitResponse): void {
    w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode));
    });
  },
  errorResponse(req, errorCode) {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
      })),
    };
  },
};

import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * AddPartitionsToTxn Request (Version: 0-1) => transactional_id STRING, producer_id INT64, producer_epoch INT16,
 *                                              [topics => name STRING, [partitions INT32]]
 * AddPartitionsToTxn Response (Version: 0-1) => throttle_time_ms [results]
 *   results => name STRING, [results => partition_index INT32, error_code INT16]
 */
export interface AddPartitionsToTxnRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  topics: { name: string; partitions: number[] }[];
}

export interface AddPartitionsToTxnResponse {
  topics: { name: string; partitions: { partition: number; errorCode: number }[] }[];
}

export const addPartitionsToTxnApi: ApiCodec<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> = {
  key: 24,
  name: 'AddPartitionsToTxn',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r: Reader): AddPartitionsToTxnRequest {
    return {
      transactionalId: r.string(),
      producerId: r.int64(),
      producerEpoch: r.int16(),
      topics: r.array((r) => ({ name: r.string(), partitions: r.array((r) => r.int32()) })),
    };
  },
  encodeResponse(w: Writer, res: AddPartitionsToTxnResponse): void {
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
        partitions: t.partitions.map((partition) => ({ partition, errorCode })),
      })),
    };
  },
};

import type { ApiCodec } from './api-codec.ts';
import type { ErrorOnlyResponse } from './heartbeat-v1-2.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * AddOffsetsToTxn Request (Version: 0-1) => transactional_id STRING, producer_id INT64, producer_epoch INT16,
 *                                           group_id STRING
 * AddOffsetsToTxn Response (Version: 0-1) => throttle_time_ms INT32, error_code INT16
 */
export interface AddOffsetsToTxnRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  groupId: string;
}

export const addOffsetsToTxnApi: ApiCodec<AddOffsetsToTxnRequest, ErrorOnlyResponse> = {
  key: 25,
  name: 'AddOffsetsToTxn',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r: Reader): AddOffsetsToTxnRequest {
    return { transactionalId: r.string(), producerId: r.int64(), producerEpoch: r.int16(), groupId: r.string() };
  },
  encodeResponse(w: Writer, res: ErrorOnlyResponse): void {
    w.int32(0).int16(res.errorCode);
  },
  errorResponse(_req, errorCode) {
    return { errorCode };
  },
};

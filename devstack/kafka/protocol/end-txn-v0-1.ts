import type { ApiCodec } from './api-codec.ts';
import type { ErrorOnlyResponse } from './heartbeat-v1-2.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * EndTxn Request (Version: 0-1) => transactional_id STRING, producer_id INT64, producer_epoch INT16,
 *                                  committed BOOLEAN
 * EndTxn Response (Version: 0-1) => throttle_time_ms INT32, error_code INT16
 */
export interface EndTxnRequest {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  committed: boolean;
}

export const endTxnApi: ApiCodec<EndTxnRequest, ErrorOnlyResponse> = {
  key: 26,
  name: 'EndTxn',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r: Reader): EndTxnRequest {
    return { transactionalId: r.string(), producerId: r.int64(), producerEpoch: r.int16(), committed: r.boolean() };
  },
  encodeResponse(w: Writer, res: ErrorOnlyResponse): void {
    w.int32(0).int16(res.errorCode);
  },
  errorResponse(_req, errorCode) {
    return { errorCode };
  },
};

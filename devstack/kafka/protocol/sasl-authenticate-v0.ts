import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * SaslAuthenticate Request (Version: 0) => auth_bytes BYTES
 * SaslAuthenticate Response (Version: 0) => error_code INT16, error_message NULLABLE_STRING, auth_bytes BYTES
 *
 * Kafka 2.1's versions (v1, with the session lifetime, came in 2.2).
 */
export interface SaslAuthenticateRequest {
  authBytes: Buffer;
}

export interface SaslAuthenticateResponse {
  errorCode: number;
  errorMessage: string | null;
  authBytes: Buffer;
}

export const saslAuthenticateApi: ApiCodec<SaslAuthenticateRequest, SaslAuthenticateResponse> = {
  key: 36,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 0,
  decodeRequest(r: Reader): SaslAuthenticateRequest {
    return { authBytes: r.bytes() };
  },
  encodeResponse(w: Writer, res: SaslAuthenticateResponse): void {
    w.int16(res.errorCode).nullableString(res.errorMessage).bytes(res.authBytes);
  },
  errorResponse(_req, errorCode) {
    return { errorCode, errorMessage: null, authBytes: Buffer.alloc(0) };
  },
};

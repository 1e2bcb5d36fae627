import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * SaslHandshake Request (Version: 0-1) => mechanism STRING
 * SaslHandshake Response (Version: 0-1) => error_code INT16 [mechanisms STRING]
 *
 * Version 1 means the SASL tokens that follow travel in SaslAuthenticate requests (KIP-152); version 0 sent them as
 * raw frames, which this broker does not speak (clients that know SaslAuthenticate use it whenever it is advertised).
 */
export interface SaslHandshakeRequest {
  mechanism: string;
}

export interface SaslHandshakeResponse {
  errorCode: number;
  mechanisms: string[];
}

export const saslHandshakeApi: ApiCodec<SaslHandshakeRequest, SaslHandshakeResponse> = {
  key: 17,
  name: 'SaslHandshake',
  minVersion: 0,
  maxVersion: 1,
  decodeRequest(r: Reader): SaslHandshakeRequest {
    return { mechanism: r.string() };
  },
  encodeResponse(w: Writer, res: SaslHandshakeResponse): void {
    w.int16(res.errorCode);
    w.array(res.mechanisms, (w, m) => w.string(m));
  },
  errorResponse(_req, errorCode) {
    return { errorCode, mechanisms: [] };
  },
};

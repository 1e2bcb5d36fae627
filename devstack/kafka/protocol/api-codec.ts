import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * One Kafka API, at the versions this broker implements: how to read its request body and write its response body.
 * Broker logic never sees bytes; codecs never see broker state. `errorResponse` builds the response a real broker
 * would send when the whole request fails with one error code (used by fault injection and for requests the broker
 * cannot serve).
 */
export interface ApiCodec<Req, Res> {
  readonly key: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  decodeRequest(r: Reader, version: number): Req;
  encodeResponse(w: Writer, res: Res, version: number): void;
  errorResponse(req: Req, errorCode: number): Res;
}

// The registry holds codecs of many request/response types; each handler is typed against its own codec.
export type AnyApiCodec = ApiCodec<any, any>;

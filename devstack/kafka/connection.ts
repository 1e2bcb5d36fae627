import type { Socket } from 'node:net';
import type { Logger } from '../../runtime/logging/index.ts';
import { NO_RESPONSE, type Broker, type RequestContext } from './broker.ts';
import { apiVersionsResponse } from './broker.ts';
import type { FaultState } from './faults.ts';
import { API_BY_KEY } from './protocol/apis.ts';
import { apiVersionsApi } from './protocol/api-versions-v0-2.ts';
import { ErrorCode } from './protocol/error-codes.ts';
import { ProtocolError, Reader } from './protocol/reader.ts';
import { finishFrame, startFrame } from './protocol/writer.ts';
import { SaslSession, type SaslAnswer, type SaslOptions } from './sasl/sasl-session.ts';

/** A client connection as the broker sees it (read-only; for tests that look for connections left open). */
export interface ClientConnection {
  readonly clientId: string | undefined;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

/** socket.request.max.bytes: a size prefix above this is garbage, not a request. */
const MAX_FRAME = 100 * 1024 * 1024;
const API_VERSIONS_KEY = 18;
const SASL_HANDSHAKE_KEY = 17;
const SASL_AUTHENTICATE_KEY = 36;

/**
 * One client socket: splits the byte stream into size-prefixed frames and handles them strictly one at a time,
 * like Kafka, which mutes a channel until its current response is sent. Responses therefore leave in request order
 * and a parked Fetch long poll holds only its own connection (kafkajs fetches on a dedicated socket).
 *
 * A frame that cannot be parsed (bad size, unknown API key, unsupported version, truncated body) closes this
 * connection only, without an answer, as Kafka does. So does any request but ApiVersions and SASL's own before a
 * client authenticated on a SASL listener ({@link SaslSession}).
 */
export class Connection {
  readonly #socket: Socket;
  readonly #broker: Broker;
  readonly #faults: FaultState;
  readonly #log: Logger;
  readonly #clientHost: string;
  /** Received bytes not yet framed. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #queue: Buffer[] = [];
  #busy = false;
  #closed = false;
  /** The clientId of the latest request: kafkajs names every client, which says whose connection this is. */
  #clientId: string | undefined;
  readonly #closeListeners = new Set<() => void>();
  readonly #sasl: SaslSession;

  constructor(socket: Socket, broker: Broker, faults: FaultState, log: Logger, sasl?: SaslOptions) {
    this.#socket = socket;
    this.#sasl = new SaslSession(sasl);
    this.#broker = broker;
    this.#faults = faults;
    this.#log = log;
    this.#clientHost = `/${socket.remoteAddress ?? 'unknown'}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#log.debug({ err }, 'kafka connection error'));
    socket.on('close', () => this.#onClose());
  }

  /** Who is connected: the peer address and the clientId its requests carry (undefined before the first one). */
  get client(): ClientConnection {
    return { clientId: this.#clientId, remoteAddress: this.#socket.remoteAddress, remotePort: this.#socket.remotePort };
  }

  /** Closes the socket now (fault injection, broker shutdown). */
  destroy(): void {
    this.#socket.destroy();
    this.#onClose();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#chunks = [];
    for (const fn of [...this.#closeListeners]) fn();
    this.#closeListeners.clear();
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.#buffered >= 4) {
      const size = this.#peekSize();
      if (size < 0 || size > MAX_FRAME) {
        this.#log.warn({ size }, 'kafka frame size out of range; closing connection');
        this.destroy();
        return;
      }
      if (this.#buffered < 4 + size) break;
      this.#queue.push(this.#take(4 + size).subarray(4));
    }
    this.#pump();
  }

  #peekSize(): number {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= 4) return first.readInt32BE(0);
    const head = Buffer.concat(this.#chunks, Math.min(this.#buffered, 64)).subarray(0, 4);
    return head.readInt32BE(0);
  }

  /** Removes `n` bytes from the front: a view when they sit in one chunk, else one copy. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0] as Buffer;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.#chunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        this.#chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    return out;
  }

  #pump(): void {
    while (!this.#busy && !this.#closed && this.#queue.length > 0) {
      const frame = this.#queue.shift() as Buffer;
      let pending: Promise<void> | undefined;
      try {
        pending = this.#process(frame);
      } catch (err) {
        this.#fail(err);
        return;
      }
      if (pending !== undefined) {
        this.#busy = true;
        pending.then(
          () => {
            this.#busy = false;
            this.#pump();
          },
          (err: unknown) => this.#fail(err),
        );
      }
    }
  }

  #fail(err: unknown): void {
    if (err instanceof ProtocolError) this.#log.warn({ err: err.message }, 'malformed kafka request; closing connection');
    else this.#log.error({ err }, 'kafka request handler failed; closing connection');
    this.destroy();
  }

  /** Handles one frame; returns a promise only when the answer is not ready synchronously. */
  #process(frame: Buffer): Promise<void> | undefined {
    const r = new Reader(frame);
    const apiKey = r.int16();
    const version = r.int16();
    const correlationId = r.int32();
    const clientId = r.nullableString() ?? '';
    this.#clientId = clientId;
    const api = API_BY_KEY.get(apiKey);

    if (api === undefined || version < api.minVersion || version > api.maxVersion) {
      if (apiKey !== API_VERSIONS_KEY) {
        // Kafka's RequestContext cannot parse such a request and its SocketServer closes the connection without an
        // answer; clients avoid this by negotiating versions with ApiVersions first.
        throw new ProtocolError(`unsupported api key ${apiKey} version ${version}`);
      }
      // An unsupported ApiVersions version is answered in the v0 shape with error 35 and the supported ranges, so
      // the client can read the error and retry lower on the same connection.
      const w = startFrame(correlationId);
      apiVersionsApi.encodeResponse(w, apiVersionsResponse(ErrorCode.UNSUPPORTED_VERSION), 0);
      this.#write(finishFrame(w));
      return undefined;
    }

    if (!this.#sasl.admits(apiKey)) throw new ProtocolError(`unexpected ${api.name} request before SASL authentication`);
    const req: unknown = api.decodeRequest(r, version);
    if (this.#log.isLevelEnabled('trace')) this.#log.trace({ api: api.name, version, correlationId, clientId }, 'kafka request');
    const injected = this.#faults.takeFailure(apiKey);
    const ctx: RequestContext = {
      clientId,
      clientHost: this.#clientHost,
      onClose: (fn) => {
        this.#closeListeners.add(fn);
        return () => this.#closeListeners.delete(fn);
      },
    };
    let sasl: SaslAnswer<unknown> | undefined;
    if (injected === undefined && apiKey === SASL_HANDSHAKE_KEY) sasl = this.#sasl.handshake(req as Parameters<SaslSession['handshake']>[0]);
    if (injected === undefined && apiKey === SASL_AUTHENTICATE_KEY) sasl = this.#sasl.authenticate(req as Parameters<SaslSession['authenticate']>[0]);
    const result = sasl !== undefined ? sasl.response : injected === undefined ? this.#broker.handle(api, req, ctx) : api.errorResponse(req, injected);
    const send = (res: unknown): Promise<void> | undefined => {
      if (this.#log.isLevelEnabled('trace')) this.#log.trace({ api: api.name, correlationId, closed: this.#closed }, 'kafka response');
      if (res === NO_RESPONSE || this.#closed) return undefined;
      const w = startFrame(correlationId);
      api.encodeResponse(w, res, version);
      const buf = finishFrame(w);
      const delay = this.#faults.delayFor(apiKey);
      if (sasl?.close === true) {
        // Kafka closes the connection once a failed handshake or authentication is answered.
        this.#write(buf);
        this.#socket.end();
        this.#onClose();
        return undefined;
      }
      if (delay <= 0) {
        this.#write(buf);
        return undefined;
      }
      return new Promise((resolve) => {
        setTimeout(() => {
          this.#write(buf);
          resolve();
        }, delay);
      });
    };
    if (result instanceof Promise) return result.then(send);
    return send(result);
  }

  #write(buf: Buffer): void {
    if (!this.#closed) this.#socket.write(buf);
  }
}

import { ErrorCode } from '../protocol/error-codes.ts';
import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from '../protocol/sasl-authenticate-v0.ts';
import type { SaslHandshakeRequest, SaslHandshakeResponse } from '../protocol/sasl-handshake-v0-1.ts';

/**
 * SASL on the broker's listener (a SASL_PLAINTEXT listener in Kafka's terms): the PLAIN users it accepts.
 *
 * @example
 * ```ts
 * const broker = await startKafkaBroker({ sasl: { plain: { alice: 'alice-secret' } } });
 * const kafka = new Kafka({ brokers: broker.brokers, sasl: { mechanism: 'plain', username: 'alice', password: 'alice-secret' } });
 * ```
 */
export interface SaslOptions {
  /** Username → password of the users SASL/PLAIN accepts. */
  readonly plain: Readonly<Record<string, string>>;
}

/** An answer to a SASL request, and whether the connection closes once it is sent (as Kafka closes it). */
export interface SaslAnswer<Res> {
  readonly response: Res;
  readonly close: boolean;
}

const API_VERSIONS = 18;
const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;
const MECHANISMS = ['PLAIN'];

/**
 * One connection's SASL state, as Kafka 2.1's `SaslServerAuthenticator`: on a SASL listener a client may send only
 * ApiVersions and SaslHandshake, then SaslAuthenticate for the mechanism it chose; any other request before it is
 * authenticated closes the connection. PLAIN (RFC 4616) checks `authzid \0 username \0 password` against the
 * configured users; a failure is answered with SASL_AUTHENTICATION_FAILED and Kafka's message, then the connection
 * closes. On a listener without SASL, and after authentication, both requests are answered ILLEGAL_SASL_STATE, as
 * Kafka's request handler does.
 */
export class SaslSession {
  readonly #options: SaslOptions | undefined;
  #state: 'handshake' | 'authenticate' | 'authenticated';

  constructor(options: SaslOptions | undefined) {
    this.#options = options;
    this.#state = options === undefined ? 'authenticated' : 'handshake';
  }

  /** Whether a request of API `key` may be handled now; when not, Kafka closes the connection without an answer. */
  admits(key: number): boolean {
    if (this.#state === 'authenticated') return true;
    return key === API_VERSIONS || key === SASL_HANDSHAKE || (key === SASL_AUTHENTICATE && this.#state === 'authenticate');
  }

  handshake(req: SaslHandshakeRequest): SaslAnswer<SaslHandshakeResponse> {
    if (this.#state !== 'handshake') return { response: { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] }, close: false };
    if (!MECHANISMS.includes(req.mechanism)) {
      return { response: { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: MECHANISMS }, close: true };
    }
    this.#state = 'authenticate';
    return { response: { errorCode: ErrorCode.NONE, mechanisms: MECHANISMS }, close: false };
  }

  authenticate(req: SaslAuthenticateRequest): SaslAnswer<SaslAuthenticateResponse> {
    const authBytes = Buffer.alloc(0);
    if (this.#state !== 'authenticate') {
      const errorMessage = 'SaslAuthenticate request received after successful authentication';
      return { response: { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage, authBytes }, close: false };
    }
    const failure = this.#checkPlain(req.authBytes);
    if (failure !== undefined) return { response: { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: failure, authBytes }, close: true };
    this.#state = 'authenticated';
    return { response: { errorCode: ErrorCode.NONE, errorMessage: null, authBytes }, close: false };
  }

  /** Kafka's `PlainSaslServer.evaluateResponse`: undefined when the client is who it says, else the reason. */
  #checkPlain(token: Buffer): string | undefined {
    const parts = token.toString('utf8').split('\u0000');
    if (parts.length !== 3) return `Invalid SASL/PLAIN response: expected 3 tokens, got ${parts.length}`;
    const [authorizationId, username, password] = parts as [string, string, string];
    if (username === '') return 'Authentication failed: username not specified';
    if (password === '') return 'Authentication failed: password not specified';
    if (authorizationId !== '' && authorizationId !== username) {
      return 'Authentication failed: Client requested an authorization id that is different from username';
    }
    const users = this.#options?.plain ?? {};
    const expected = Object.hasOwn(users, username) ? users[username] : undefined;
    if (expected === undefined || expected !== password) return 'Authentication failed: Invalid username or password';
    return undefined;
  }
}

import { ErrorCode } from '../protocol/error-codes.ts';
import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from '../protocol/sasl-authenticate-v0.ts';
import type { SaslHandshakeRequest, SaslHandshakeResponse } from '../protocol/sasl-handshake-v0-1.ts';
import { PlainExchange } from './plain-exchange.ts';
import type { SaslExchange, SaslUsers } from './sasl-mechanism.ts';
import { ScramExchange } from './scram-exchange.ts';

/** The SASL mechanisms a devstack listener can offer. */
export type SaslMechanismName = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
export const SASL_MECHANISMS: readonly SaslMechanismName[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/**
 * SASL on the broker's listener (a SASL_PLAINTEXT listener in Kafka's terms): the users it accepts, and the
 * mechanisms it offers (Kafka's `sasl.enabled.mechanisms`; default all three).
 *
 * @example
 * ```ts
 * const broker = await startKafkaBroker({ sasl: { users: { alice: 'alice-secret' } } });
 * const kafka = new Kafka({ brokers: broker.brokers, sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' } });
 * ```
 */
export interface SaslOptions {
  /** Username → password. */
  readonly users: SaslUsers;
  readonly mechanisms?: readonly SaslMechanismName[];
}

/** An answer to a SASL request, and whether the connection closes once it is sent (as Kafka closes it). */
export interface SaslAnswer<Res> {
  readonly response: Res;
  readonly close: boolean;
}

const API_VERSIONS = 18;
const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;

/**
 * One connection's SASL state, as Kafka 2.1's `SaslServerAuthenticator`: on a SASL listener a client may send only
 * ApiVersions and SaslHandshake, then SaslAuthenticate rounds for the mechanism it chose; any other request before it
 * is authenticated closes the connection. A failed round is answered with SASL_AUTHENTICATION_FAILED and Kafka's
 * message, then the connection closes. On a listener without SASL, and after authentication, both requests are
 * answered ILLEGAL_SASL_STATE, as Kafka's request handler does.
 */
export class SaslSession {
  readonly #options: SaslOptions | undefined;
  #state: 'handshake' | 'authenticate' | 'authenticated';
  #exchange: SaslExchange | undefined;

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
    const options = this.#options;
    if (this.#state !== 'handshake' || options === undefined) return { response: { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] }, close: false };
    const enabled = [...(options.mechanisms ?? SASL_MECHANISMS)];
    if (!enabled.includes(req.mechanism as SaslMechanismName)) {
      return { response: { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: enabled }, close: true };
    }
    this.#exchange = req.mechanism === 'PLAIN' ? new PlainExchange(options.users) : new ScramExchange(options.users, req.mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512');
    this.#state = 'authenticate';
    return { response: { errorCode: ErrorCode.NONE, mechanisms: enabled }, close: false };
  }

  authenticate(req: SaslAuthenticateRequest): SaslAnswer<SaslAuthenticateResponse> {
    const empty = Buffer.alloc(0);
    if (this.#state !== 'authenticate' || this.#exchange === undefined) {
      const errorMessage = 'SaslAuthenticate request received after successful authentication';
      return { response: { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage, authBytes: empty }, close: false };
    }
    const step = this.#exchange.step(req.authBytes);
    if ('failure' in step) return { response: { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: step.failure, authBytes: empty }, close: true };
    if (step.done) this.#state = 'authenticated';
    return { response: { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: step.token }, close: false };
  }
}

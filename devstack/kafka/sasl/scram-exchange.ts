import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { passwordOf, type SaslExchange, type SaslStep, type SaslUsers } from './sasl-mechanism.ts';

/** Kafka's minimum (and its tools' default) iteration count for SCRAM credentials. */
const ITERATIONS = 4096;
const INVALID = 'Authentication failed: Invalid user credentials';

/**
 * SASL/SCRAM-SHA-256 and -512 (RFC 5802, RFC 7677) as Kafka's `ScramSaslServer` runs them, two rounds:
 *
 * 1. client-first `n,,n=<user>,r=<client nonce>` → server-first `r=<client nonce><server nonce>,s=<salt>,i=4096`;
 * 2. client-final `c=biws,r=<nonce>,p=<proof>` → server-final `v=<server signature>` once the proof shows the client
 *    knows the password: ClientKey = HMAC(SaltedPassword, "Client Key"), and H(proof XOR HMAC(H(ClientKey),
 *    AuthMessage)) must equal H(ClientKey).
 *
 * Credentials are derived from the configured password with a fresh salt per connection (Kafka stores them salted
 * once; a client cannot tell). An unknown user, a changed nonce or a wrong proof fails with Kafka's message.
 */
export class ScramExchange implements SaslExchange {
  readonly #users: SaslUsers;
  readonly #digest: 'sha256' | 'sha512';
  #round: 'first' | 'final' | 'done' = 'first';
  #clientFirstBare = '';
  /** The client's gs2 header (`n,,`): its final message must bind it, base64, as `c=`. */
  #gs2Header = '';
  #serverFirst = '';
  #nonce = '';
  #saltedPassword: Buffer = Buffer.alloc(0);

  constructor(users: SaslUsers, digest: 'sha256' | 'sha512') {
    this.#users = users;
    this.#digest = digest;
  }

  step(clientToken: Buffer): SaslStep {
    const message = clientToken.toString('utf8');
    if (this.#round === 'first') return this.#first(message);
    if (this.#round === 'final') return this.#final(message);
    return { failure: 'Authentication failed: SCRAM exchange already complete' };
  }

  #first(message: string): SaslStep {
    // gs2 header: no channel binding, no authzid (Kafka accepts an authzid equal to the user; kafkajs sends none).
    const match = /^n,(?:a=[^,]*)?,(n=([^,]*),r=([^,]*)(?:,.*)?)$/.exec(message);
    if (match === null) return { failure: `Invalid SCRAM client first message: ${message}` };
    const [, bare, username, clientNonce] = match as unknown as [string, string, string, string];
    const password = passwordOf(this.#users, username.replace(/=2C/g, ',').replace(/=3D/g, '='));
    if (password === undefined || clientNonce === '') return { failure: INVALID };
    const salt = randomBytes(16);
    this.#saltedPassword = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, ITERATIONS, this.#digest === 'sha256' ? 32 : 64, this.#digest);
    this.#clientFirstBare = bare;
    this.#gs2Header = message.slice(0, message.length - bare.length);
    this.#nonce = clientNonce + randomBytes(18).toString('base64');
    this.#serverFirst = `r=${this.#nonce},s=${salt.toString('base64')},i=${ITERATIONS}`;
    this.#round = 'final';
    return { token: Buffer.from(this.#serverFirst, 'utf8'), done: false };
  }

  #final(message: string): SaslStep {
    const match = /^(c=([^,]*),r=([^,]*)(?:,[^p][^,]*)*),p=([^,]*)$/.exec(message);
    if (match === null) return { failure: `Invalid SCRAM client final message: ${message}` };
    const [, withoutProof, binding, nonce, proof] = match as unknown as [string, string, string, string, string];
    if (nonce !== this.#nonce) return { failure: 'Authentication failed: Invalid nonce' };
    if (binding !== Buffer.from(this.#gs2Header, 'utf8').toString('base64')) return { failure: 'Authentication failed: Invalid channel binding' };
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const clientKey = this.#hmac(this.#saltedPassword, 'Client Key');
    const storedKey = createHash(this.#digest).update(clientKey).digest();
    const signature = this.#hmac(storedKey, authMessage);
    const given = Buffer.from(proof, 'base64');
    if (given.length !== signature.length) return { failure: INVALID };
    const recovered = Buffer.from(given.map((b, i) => b ^ signature[i]!));
    if (!timingSafeEqual(createHash(this.#digest).update(recovered).digest(), storedKey)) return { failure: INVALID };
    this.#round = 'done';
    const serverSignature = this.#hmac(this.#hmac(this.#saltedPassword, 'Server Key'), authMessage);
    return { token: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'), done: true };
  }

  #hmac(key: Buffer, data: string): Buffer {
    return createHmac(this.#digest, key).update(data, 'utf8').digest();
  }
}

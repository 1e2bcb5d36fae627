import { passwordOf, type SaslExchange, type SaslStep, type SaslUsers } from './sasl-mechanism.ts';

/**
 * SASL/PLAIN (RFC 4616) as Kafka's `PlainSaslServer` checks it: one token, `authzid \0 username \0 password`, with
 * Kafka's messages for each way it can be wrong.
 */
export class PlainExchange implements SaslExchange {
  readonly #users: SaslUsers;

  constructor(users: SaslUsers) {
    this.#users = users;
  }

  step(clientToken: Buffer): SaslStep {
    const parts = clientToken.toString('utf8').split('\u0000');
    if (parts.length !== 3) return { failure: `Invalid SASL/PLAIN response: expected 3 tokens, got ${parts.length}` };
    const [authorizationId, username, password] = parts as [string, string, string];
    if (username === '') return { failure: 'Authentication failed: username not specified' };
    if (password === '') return { failure: 'Authentication failed: password not specified' };
    if (authorizationId !== '' && authorizationId !== username) {
      return { failure: 'Authentication failed: Client requested an authorization id that is different from username' };
    }
    if (passwordOf(this.#users, username) !== password) return { failure: 'Authentication failed: Invalid username or password' };
    return { token: Buffer.alloc(0), done: true };
  }
}

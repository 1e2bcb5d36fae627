/** One step of a SASL exchange: the server's token back, or the reason authentication failed. */
export type SaslStep = { readonly token: Buffer; readonly done: boolean } | { readonly failure: string };

/** The server side of one SASL mechanism for one connection: takes the client's tokens in turn. */
export interface SaslExchange {
  step(clientToken: Buffer): SaslStep;
}

/** The users a listener accepts: username → password. */
export type SaslUsers = Readonly<Record<string, string>>;

/** The password of `username`, or undefined (own properties only: a name like `__proto__` is just a name). */
export function passwordOf(users: SaslUsers, username: string): string | undefined {
  return Object.hasOwn(users, username) ? users[username] : undefined;
}

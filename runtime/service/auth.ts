import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { SluiceError } from '../errors/index.ts';
import { ServiceErrorCodes } from './service-errors.ts';

/**
 * Checks the `Authorization: Bearer <token>` header of a request against the service's token. Both sides are hashed
 * (SHA-256) first so `timingSafeEqual` compares equal-length digests: the comparison takes the same time whatever
 * the guess, and the token's length does not leak either. Throws `SLUICE_UNAUTHORIZED`.
 *
 * @example
 * ```ts
 * const check = bearerCheck('s3cret');
 * check(req.headers.authorization); // throws unless "Bearer s3cret"
 * ```
 */
export function bearerCheck(token: string): (header: string | undefined) => void {
  const expected = digest(token);
  return (header) => {
    if (header === undefined || header === '') {
      throw new SluiceError(ServiceErrorCodes.unauthorized, 'this service requires a token: pass --token <token> or set SLUICE_TOKEN (the request had no "Authorization: Bearer" header)');
    }
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match === null) {
      throw new SluiceError(ServiceErrorCodes.unauthorized, 'the Authorization header must be "Bearer <token>"');
    }
    if (!timingSafeEqual(digest((match[1] as string).trim()), expected)) {
      throw new SluiceError(ServiceErrorCodes.unauthorized, 'the token does not match the service\'s token: check --token / SLUICE_TOKEN');
    }
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** True for addresses only this machine can reach: `localhost`, 127.0.0.0/8, `::1`. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/**
 * Refuses a bind address other machines can reach unless a token guards it: submitting a job runs its code in the
 * service, so an open port without a token is remote code execution for anyone on the network.
 */
export function checkBindSafety(host: string, token: string | undefined): void {
  if (isLoopback(host) || (token !== undefined && token !== '')) return;
  throw new SluiceError(
    ServiceErrorCodes.unsafeBind,
    `refusing to listen on ${host} without a token: anyone who can reach it could submit a job, and a job is code the service runs. ` +
      'Pass --token <token> (or set SLUICE_TOKEN), or bind to 127.0.0.1',
  );
}

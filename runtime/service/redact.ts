/**
 * Keys whose values are secrets: passwords, tokens, API keys, SASL settings, credentials. Matched anywhere in the
 * key, case-insensitively, so `kafkaPassword`, `es.api_key` and `SASL_MECHANISM` are all caught (over-redacting a
 * mechanism name is cheaper than printing a password).
 */
export const SECRET_KEY = /password|passwd|secret|token|api[-_]?key|sasl|credentials?/i;

/** What a redacted value is replaced with. */
export const REDACTED = '***';

/**
 * A deep copy of `value` in which every property whose key looks like a secret ({@link SECRET_KEY}) has its value
 * replaced by `***`. Used for everything the service logs or returns about a job's params and options.
 *
 * @example
 * ```ts
 * redactSecrets({ topic: 'orders', saslPassword: 'hunter2' }); // { topic: 'orders', saslPassword: '***' }
 * ```
 */
export function redactSecrets<T>(value: T): T {
  return redact(value, new WeakSet()) as T;
}

function redact(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, seen));
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, typeof k === 'string' && SECRET_KEY.test(k) ? REDACTED : redact(v, seen)]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v, seen);
  return out;
}

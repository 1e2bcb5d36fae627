/**
 * The records of jobs/orders-with-customers.ts: what producers write to its three input topics, how each value is
 * decoded and checked (a value that breaks the shape throws, and the source sends it to the dead-letter topic), and
 * what the job writes.
 */

/** An order, from the orders topic. */
export interface Order {
  readonly orderId: string;
  readonly customer: string;
  /** In `currency`, major units (12.5 = 12.50). */
  readonly amount: number;
  /** ISO 4217 code, upper case; EUR when the producer gave none. */
  readonly currency: string;
  /** Event time: when the order was placed, epoch milliseconds. */
  readonly ts: number;
}

/** A new version of a customer's profile, from the (compacted) customer-profiles topic. */
export interface ProfileUpdate {
  readonly customer: string;
  /** Event time: from when this version holds, epoch milliseconds. */
  readonly ts: number;
  readonly name: string;
  /** `standard` when the producer gave none. */
  readonly tier: string;
}

/** A new EUR rate of a currency, from the fx-rates topic. */
export interface RateUpdate {
  /** ISO 4217 code, upper case; not EUR (the base). */
  readonly currency: string;
  /** Event time: from when this rate holds, epoch milliseconds. */
  readonly ts: number;
  /** EUR per unit of `currency` (> 0). */
  readonly eurPerUnit: number;
}

/** A profile version as the join keeps it (the customer is the key). */
export type ProfileVersion = Omit<ProfileUpdate, 'customer'>;

/** A rate version as the broadcast state keeps it (the currency is the map key). */
export type RateVersion = Omit<RateUpdate, 'currency'>;

/** Step 1's output: the order and the profile version it was joined with. */
export interface OrderWithProfile {
  readonly order: Order;
  readonly profile: ProfileVersion;
  /**
   * False: the customer's latest version at the order's time (`profile.ts ≤ order.ts`). True: there was none then,
   * and this is the first version that came within `timeoutMs` after it.
   */
  readonly profileArrivedLater: boolean;
}

/** One output record: the order with its customer's profile and its amount in EUR. */
export interface OrderWithCustomer extends OrderWithProfile {
  /** The rate version valid at the order's time; `null` for orders in EUR. */
  readonly rate: RateVersion | null;
  /** `amount × rate` in EUR cents, rounded. */
  readonly amountEurCents: number;
}

/**
 * An order the job could not complete, on the side output `unmatched`: `no-profile` when its customer had no profile
 * at the order's time nor within `timeoutMs` after it; `no-rate` when its currency had no rate at the order's time.
 */
export interface UnmatchedOrder {
  readonly order: Order;
  readonly reason: 'no-profile' | 'no-rate';
}

/**
 * Decodes an order. Throws with a reason a person can act on (the source then dead-letters the record).
 *
 * @example
 * ```ts
 * parseOrder(Buffer.from('{"orderId":7,"customer":"ann","amount":3,"currency":"usd","ts":"2026-01-01T10:00:00Z"}'));
 * // → { orderId: '7', customer: 'ann', amount: 3, currency: 'USD', ts: 1767261600000 }
 * ```
 */
export function parseOrder(value: Buffer | null): Order {
  const raw = jsonObject(value, 'order', '{ orderId, customer, amount, currency?, ts }');
  const { orderId, amount } = raw;
  if (!((typeof orderId === 'string' && orderId.length > 0) || (typeof orderId === 'number' && Number.isSafeInteger(orderId)))) {
    throw new Error(`order field "orderId" must be a non-empty string or an integer, got ${shown(orderId)}`);
  }
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) throw new Error(`order field "amount" must be a number ≥ 0, got ${shown(amount)}`);
  const currency = raw['currency'] === undefined || raw['currency'] === null ? 'EUR' : currencyCode('order', raw['currency']);
  return { orderId: String(orderId), customer: nonEmpty('order', 'customer', raw['customer']), amount, currency, ts: timestampField('order', raw['ts']) };
}

/** Decodes a profile update; see {@link parseOrder}. */
export function parseProfile(value: Buffer | null): ProfileUpdate {
  const raw = jsonObject(value, 'profile', '{ customer, ts, name, tier? }');
  const tier = raw['tier'] === undefined || raw['tier'] === null ? 'standard' : nonEmpty('profile', 'tier', raw['tier']);
  return { customer: nonEmpty('profile', 'customer', raw['customer']), ts: timestampField('profile', raw['ts']), name: nonEmpty('profile', 'name', raw['name']), tier };
}

/** Decodes a rate update; see {@link parseOrder}. */
export function parseRate(value: Buffer | null): RateUpdate {
  const raw = jsonObject(value, 'rate', '{ currency, ts, eurPerUnit }');
  const currency = currencyCode('rate', raw['currency']);
  if (currency === 'EUR') throw new Error('rate field "currency" must not be EUR: rates are EUR per unit of another currency');
  const eurPerUnit = raw['eurPerUnit'];
  if (typeof eurPerUnit !== 'number' || !Number.isFinite(eurPerUnit) || eurPerUnit <= 0) {
    throw new Error(`rate field "eurPerUnit" must be a number > 0, got ${shown(eurPerUnit)}`);
  }
  return { currency, ts: timestampField('rate', raw['ts']), eurPerUnit };
}

/** The JSON object in `value`, or an error naming `what` and the `shape` expected (for the dead-letter topic). */
export function jsonObject(value: Buffer | null, what: string, shape: string): Record<string, unknown> {
  if (value === null) throw new Error(`${what} value is null (a tombstone); expected a JSON object ${shape}`);
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${what} must be a JSON object ${shape}`);
  return raw as Record<string, unknown>;
}

/** A non-empty string field, trimmed, or an error naming it. */
export function nonEmpty(what: string, field: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim().length === 0) throw new Error(`${what} field "${field}" must be a non-empty string, got ${shown(value)}`);
  return value.trim();
}

function currencyCode(what: string, value: unknown): string {
  const code = typeof value === 'string' ? value.trim().toUpperCase() : '';
  if (!/^[A-Z]{3}$/.test(code)) throw new Error(`${what} field "currency" must be a three-letter ISO 4217 code (any case), got ${shown(value)}`);
  return code;
}

/** Epoch milliseconds, or an ISO 8601 date-time with a zone (`2026-01-01T10:00:00Z`). */
export function timestampField(what: string, value: unknown): number {
  const ts = typeof value === 'number' ? value : typeof value === 'string' && /T.*(Z|[+-]\d\d:?\d\d)$/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isSafeInteger(ts)) throw new Error(`${what} field "ts" must be epoch milliseconds or an ISO 8601 date-time with a zone, got ${shown(value)}`);
  return ts;
}

function shown(value: unknown): string {
  return JSON.stringify(value) ?? 'nothing';
}

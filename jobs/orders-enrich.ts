/**
 * Orders, enriched with a running total per customer, Kafka → Kafka exactly-once.
 *
 * Reads JSON orders `{ orderId, customer, amount, currency? }` from the `orders` topic, normalises the currency
 * (trimmed, upper case, EUR when absent), converts the amount to EUR and puts it in a band (small / medium / large),
 * keeps a running total and order count per customer, and writes one record per order to `orders-enriched`
 * (key = customer, value = `{ order, customerOrders, customerTotalEur }` as JSON). Output is transactional: a
 * `read_committed` consumer sees every order exactly once, also across crashes and restarts (checkpoints every
 * second; output becomes visible when the checkpoint that covers it completes).
 *
 * An order that is not valid JSON or breaks the shape (no customer, negative amount, unknown currency, ...) is not
 * dropped: it goes to `orders-dead-letters` with its topic, partition, offset and the reason, exactly once as well
 * (the dead letters are written in transactions committed with the same checkpoints).
 *
 * Try it against the devstack (three terminals):
 *
 *   npx sluice dev                                   # Kafka on 127.0.0.1:9092 (topics are created on first use)
 *   npx sluice run jobs/orders-enrich.ts             # KAFKA_BROKERS=host:9092[,host:9092] for another cluster
 *   node --import tsx -e "
 *     const { Kafka } = await import('kafkajs'); const p = new Kafka({ brokers: ['127.0.0.1:9092'] }).producer();
 *     await p.connect();
 *     await p.send({ topic: 'orders', messages: [
 *       { key: 'alice', value: JSON.stringify({ orderId: 'o-1', customer: 'alice', amount: 12.5 }) },
 *       { key: 'alice', value: JSON.stringify({ orderId: 'o-2', customer: 'alice', amount: 99, currency: 'usd' }) },
 *       { key: 'bob', value: JSON.stringify({ orderId: 'o-3', customer: 'bob', amount: 250, currency: 'GBP' }) } ] });
 *     await p.disconnect();"
 *
 * then read `orders-enriched` with any read_committed consumer (records appear about a second after they are
 * written). Parameters: `--set brokers=h:p,h:p --set input=orders --set output=orders-enriched
 * --set deadLetters=orders-dead-letters --set txnPrefix=orders-enrich --set group=sluice-orders-enrich`.
 *
 * The building blocks are exported so that tests run this pipeline under injected faults
 * (test/connectors/kafka/fixtures/orders-job.ts).
 */
import { kafkaSink, type KafkaRecord } from '../connectors/kafka/index.ts';
import { defineJob, valueState, type JobParams, type KeyedProcessFunction, type Sink, type Source, type StateDeclaration } from '../runtime/api/index.ts';
import { brokersParam, jsonInput } from './support/kafka-inputs.ts';

/** An order as producers write it to the input topic. */
export interface Order {
  readonly orderId: string;
  readonly customer: string;
  /** In `currency`, major units (12.5 = 12.50). */
  readonly amount: number;
  /** ISO 4217 code, normalised to upper case; EUR when the producer gave none. */
  readonly currency: Currency;
}

export type AmountBand = 'small' | 'medium' | 'large';

/** An order after enrichment. */
export interface EnrichedOrder extends Order {
  /** The amount in EUR cents: integers, so that running totals are exact whatever the order of additions. */
  readonly amountEurCents: number;
  readonly band: AmountBand;
}

/** One output record: the order and where its customer stands after it. */
export interface OrderWithTotal {
  readonly order: EnrichedOrder;
  /** Orders of this customer so far, this one included. */
  readonly customerOrders: number;
  /** Sum of `amountEurCents` of those orders. */
  readonly customerTotalEurCents: number;
}

/**
 * EUR per unit of each accepted currency. A fixed table keeps the example self-contained and its output
 * reproducible; a production job would join a rates topic instead.
 */
export const EUR_RATES = { EUR: 1, USD: 0.92, GBP: 1.17, CHF: 1.04, SEK: 0.087, JPY: 0.0061 } as const;
export type Currency = keyof typeof EUR_RATES;

/** Upper bounds (exclusive, EUR cents) of the small and medium bands. */
const SMALL_BELOW_CENTS = 20_00;
const MEDIUM_BELOW_CENTS = 200_00;

/** Settings of the pipeline, from `--set` parameters (see the header). */
export interface OrdersEnrichSettings {
  readonly brokers: string[];
  readonly input: string;
  readonly output: string;
  readonly deadLetters: string;
  readonly transactionalIdPrefix: string;
  readonly groupId: string;
}

export function ordersEnrichSettings(params: JobParams): OrdersEnrichSettings {
  return {
    brokers: brokersParam(params),
    input: params.string('input', 'orders'),
    output: params.string('output', 'orders-enriched'),
    deadLetters: params.string('deadLetters', 'orders-dead-letters'),
    transactionalIdPrefix: params.string('txnPrefix', 'orders-enrich'),
    groupId: params.string('group', 'sluice-orders-enrich'),
  };
}

/**
 * Decodes and validates one input value. Throws with a reason a person can act on: the source then sends the
 * record to the dead-letter topic instead of failing the job or dropping it.
 *
 * @example
 * ```ts
 * parseOrder(Buffer.from('{"orderId":7,"customer":"ann","amount":3,"currency":" usd"}'));
 * // → { orderId: '7', customer: 'ann', amount: 3, currency: 'USD' }
 * ```
 */
export function parseOrder(value: Buffer | null): Order {
  if (value === null) throw new Error('order value is null (a tombstone); expected a JSON object');
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw new Error(`order is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('order must be a JSON object { orderId, customer, amount, currency? }');
  const { orderId, customer, amount, currency } = raw as Record<string, unknown>;
  if (!((typeof orderId === 'string' && orderId.length > 0) || (typeof orderId === 'number' && Number.isSafeInteger(orderId)))) {
    throw new Error(`order field "orderId" must be a non-empty string or an integer, got ${JSON.stringify(orderId) ?? 'nothing'}`);
  }
  if (typeof customer !== 'string' || customer.trim().length === 0) {
    throw new Error(`order field "customer" must be a non-empty string, got ${JSON.stringify(customer) ?? 'nothing'}`);
  }
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
    throw new Error(`order field "amount" must be a number ≥ 0, got ${JSON.stringify(amount) ?? 'nothing'}`);
  }
  return { orderId: String(orderId), customer: customer.trim(), amount, currency: normaliseCurrency(currency) };
}

function normaliseCurrency(currency: unknown): Currency {
  if (currency === undefined || currency === null) return 'EUR';
  const code = typeof currency === 'string' ? currency.trim().toUpperCase() : '';
  if (!Object.hasOwn(EUR_RATES, code)) {
    throw new Error(`order field "currency" must be one of ${Object.keys(EUR_RATES).join(', ')} (any case) or absent, got ${JSON.stringify(currency)}`);
  }
  return code as Currency;
}

/** Adds the EUR amount and the band. Pure: a replay after a failure enriches exactly the same way. */
export function enrichOrder(order: Order): EnrichedOrder {
  const amountEurCents = Math.round(order.amount * EUR_RATES[order.currency] * 100);
  const band: AmountBand = amountEurCents < SMALL_BELOW_CENTS ? 'small' : amountEurCents < MEDIUM_BELOW_CENTS ? 'medium' : 'large';
  return { ...order, amountEurCents, band };
}

const totalsState = { orders: valueState<number>(), totalCents: valueState<number>() };
type TotalsState = { orders: StateDeclaration<'value', number>; totalCents: StateDeclaration<'value', number> };

/** Running order count and EUR total per customer (keyed by customer), one output per order. */
export const runningTotals: KeyedProcessFunction<EnrichedOrder, string, OrderWithTotal, TotalsState> = {
  state: totalsState,
  processElement(order, ctx) {
    const customerOrders = (ctx.state.orders.value() ?? 0) + 1;
    const customerTotalEurCents = (ctx.state.totalCents.value() ?? 0) + order.amountEurCents;
    ctx.state.orders.update(customerOrders);
    ctx.state.totalCents.update(customerTotalEurCents);
    return { order, customerOrders, customerTotalEurCents };
  },
};

/**
 * The input: JSON orders, bad ones to the dead-letter topic. Exactly-once: the dead letters of a checkpoint's input
 * are committed with that checkpoint (their own transactional ids, `<txnPrefix>-dead-letters-…`), so a replay after a
 * failure does not repeat them.
 */
export function ordersSource(settings: OrdersEnrichSettings): Source<KafkaRecord<Order>> {
  return jsonInput({
    brokers: settings.brokers,
    topic: settings.input,
    groupId: settings.groupId,
    format: parseOrder,
    deadLetters: settings.deadLetters,
    deadLetterTransactionalIdPrefix: `${settings.transactionalIdPrefix}-dead-letters`,
  });
}

/** The output: one transaction per sink subtask per checkpoint, key = customer (so a customer's records stay in order). */
export function ordersEnrichedSink(settings: OrdersEnrichSettings): Sink<OrderWithTotal> {
  return kafkaSink<OrderWithTotal>({
    brokers: settings.brokers,
    topic: settings.output,
    key: (r) => r.order.customer,
    guarantee: 'exactly-once',
    transactionalIdPrefix: settings.transactionalIdPrefix,
  });
}

export default defineJob(
  // The checkpoint timeout is set well below the default 10 min so the sink's transaction timeout (15 min) covers
  // interval + timeout + the longest restart delay (60 s) with room to spare.
  { name: 'orders-enrich', parallelism: 2, checkpoints: { intervalMs: 1_000, timeoutMs: 60_000 } },
  (env, params) => {
    const settings = ordersEnrichSettings(params);
    env
      .source(ordersSource(settings))
      .uid('orders')
      .map((record) => enrichOrder(record.value))
      .uid('enrich')
      .keyBy((order) => order.customer)
      .process(runningTotals)
      .uid('customer-totals')
      .sink(ordersEnrichedSink(settings))
      .uid('orders-enriched');
  },
);

/**
 * Orders joined with customer profiles and converted to EUR, by event time, Kafka → Kafka exactly-once.
 *
 * Three JSON inputs, each record with its event time `ts` (epoch ms, or ISO 8601 with a zone):
 *
 * - `orders`: `{ orderId, customer, amount, currency?, ts }` (currency EUR when absent);
 * - `customer-profiles`: `{ customer, ts, name, tier? }`, a new version of a customer's profile from `ts` on. In a real
 *   deployment this is a **compacted** topic keyed by customer (`cleanup.policy=compact`): it holds every customer's
 *   latest profile for good, in log (and so event-time) order, and the job reads it from the earliest offset, so a
 *   fresh start sees every profile. Compaction drops old versions: on a fresh start, old orders are joined with what
 *   is left. A tombstone (null value) has no event time and goes to the dead-letter topic;
 * - `fx-rates`: `{ currency, ts, eurPerUnit }`, a currency's EUR rate from `ts` on (keyed by currency).
 *
 * Step 1 (`connect` + keyed state): orders and profiles keyed by customer, a temporal join. An order is decided on an
 * event-time timer, once the watermark of both inputs has passed its `ts`: it is joined with the profile version in
 * force then (the latest with `ts ≤` the order's). A customer without one yet gets `timeoutMs` of event time for a
 * profile to arrive (joined with the first that comes, `profileArrivedLater: true`); after that the order goes to the
 * side output `unmatched` (`reason: 'no-profile'`). Step 2 (broadcast state): the rates are broadcast to every
 * subtask, which keeps each currency's rate versions; each order waits (event-time timer) until the rates' watermark
 * has passed it too, and is converted with the rate in force at its `ts` (`no-rate` to `unmatched` when its currency
 * has none). Details: jobs/orders-with-customers/temporal-joins.ts.
 *
 * Output: `orders-with-customers`, key = customer, value `{ order, profile, profileArrivedLater, rate, amountEurCents }`
 * (JSON), each customer's orders in the event-time order they were decided in; `orders-unmatched`, key = orderId, value
 * `{ order, reason }`; records that are not valid JSON or break the shape go to `orders-with-customers-dead-letters`
 * with their topic, partition, offset and the reason. All three are transactional (committed with the checkpoints,
 * every second): a `read_committed` consumer sees every order exactly once, in exactly one of them, also across
 * crashes and restarts. Decisions depend on event time only, not on how the inputs interleave, so the output is the
 * same on every run over the same input: `sluice verify` shows it exact under crashes (test/jobs/).
 *
 * An order is decided once event time has passed it: the newest orders wait until later records (on every input)
 * move time on. Inputs are `maxOutOfOrdernessMs` out of order at most (per partition); a later record is late: a late
 * profile or rate counts only for orders not decided yet, a late order is decided at the next watermark. A partition
 * silent for `idleMs` stops holding time back (so a quiet profiles topic does not stall the join); on replays of old
 * data, where inputs are read at different speeds, `--set idleMs=0` (never idle) keeps the result exact.
 *
 * Try it against the devstack: start Kafka (`npx sluice dev`, on 127.0.0.1:9092), write some input (this creates the
 * topics; the job fails at once on a topic that does not exist), then run the job in another terminal with
 * `npx sluice run jobs/orders-with-customers.ts --set timeoutMs=60000` (KAFKA_BROKERS=host:9092 for another cluster):
 *
 *   node --import tsx -e "
 *     const { Kafka } = await import('kafkajs'); const p = new Kafka({ brokers: ['127.0.0.1:9092'] }).producer();
 *     const t = (s) => Date.parse('2026-03-01T12:00:00Z') + s * 1000;
 *     const send = (topic, key, value) => p.send({ topic, messages: [{ key, value: JSON.stringify(value) }] });
 *     await p.connect();
 *     await send('customer-profiles', 'alice', { customer: 'alice', ts: t(0), name: 'Alice', tier: 'gold' });
 *     await send('fx-rates', 'USD', { currency: 'USD', ts: t(0), eurPerUnit: 0.92 });
 *     await send('fx-rates', 'USD', { currency: 'USD', ts: t(30), eurPerUnit: 0.95 });
 *     await send('orders', 'alice', { orderId: 'o-1', customer: 'alice', amount: 20, currency: 'usd', ts: t(10) }); // 1840 cents
 *     await send('orders', 'alice', { orderId: 'o-2', customer: 'alice', amount: 20, currency: 'usd', ts: t(40) }); // 1900 cents
 *     await send('orders', 'bob', { orderId: 'o-3', customer: 'bob', amount: 5, ts: t(20) });      // joined with the profile of t(50)
 *     await send('customer-profiles', 'bob', { customer: 'bob', ts: t(50), name: 'Bob' });
 *     await send('orders', 'carol', { orderId: 'o-4', customer: 'carol', amount: 7, ts: t(20) });  // no profile: unmatched
 *     await send('orders', 'dave', 'not an order');                                                 // a dead letter
 *     // Event time moves on with later records on every input (this order waits for the next ones).
 *     await send('customer-profiles', 'alice', { customer: 'alice', ts: t(300), name: 'Alice', tier: 'platinum' });
 *     await send('fx-rates', 'USD', { currency: 'USD', ts: t(300), eurPerUnit: 0.93 });
 *     await send('orders', 'alice', { orderId: 'o-5', customer: 'alice', amount: 1, ts: t(300) });
 *     await p.disconnect();"
 *
 * Within a second or two, o-1 to o-3 are in `orders-with-customers`, o-4 in `orders-unmatched` and the dead letter in
 * `orders-with-customers-dead-letters` (read them with any read_committed consumer); o-5 waits. Parameters (`--set k=v`): `brokers=h:p,h:p`,
 * topics `orders`, `profiles` (customer-profiles), `rates` (fx-rates), `output` (orders-with-customers), `unmatched`
 * (orders-unmatched), `deadLetters` (orders-with-customers-dead-letters); `timeoutMs` (300000: how long in event time
 * an order waits for a profile), `maxOutOfOrdernessMs` (5000), `idleMs` (10000; 0 = never idle), `txnPrefix`
 * (orders-with-customers: transactional ids), `group` (sluice-orders-with-customers: consumer groups, + `-orders`...).
 */
import { kafkaSink, type KafkaRecord, type ValueDeserializer } from '../connectors/kafka/index.ts';
import { boundedOutOfOrderness, defineJob, type JobParams, type Sink, type Source, type WatermarkStrategy } from '../runtime/api/index.ts';
import { brokersParam, jsonInput } from './support/kafka-inputs.ts';
import { parseOrder, parseProfile, parseRate, type Order, type OrderWithCustomer, type ProfileUpdate, type RateUpdate, type UnmatchedOrder } from './orders-with-customers/records.ts';
import { profileJoin, rateConversion } from './orders-with-customers/temporal-joins.ts';

export * from './orders-with-customers/records.ts';
export { profileJoin, rateConversion, latestAtOrBefore, withVersion, withoutOld } from './orders-with-customers/temporal-joins.ts';

/** Settings of the pipeline, from `--set` parameters (see the header). */
export interface OrdersWithCustomersSettings {
  readonly brokers: string[];
  readonly orders: string;
  readonly profiles: string;
  readonly rates: string;
  readonly output: string;
  readonly unmatched: string;
  readonly deadLetters: string;
  /** How long (event time) an order without a profile waits for one. */
  readonly timeoutMs: number;
  readonly maxOutOfOrdernessMs: number;
  /** 0: partitions never go idle. */
  readonly idleMs: number;
  readonly transactionalIdPrefix: string;
  readonly groupId: string;
}

export function ordersWithCustomersSettings(params: JobParams): OrdersWithCustomersSettings {
  const nonNegative = (name: string, fallback: number): number => {
    const n = params.number(name, fallback);
    if (!Number.isFinite(n) || n < 0) throw new Error(`parameter ${name} must be a number ≥ 0, got ${n}`);
    return n;
  };
  return {
    brokers: brokersParam(params),
    orders: params.string('orders', 'orders'),
    profiles: params.string('profiles', 'customer-profiles'),
    rates: params.string('rates', 'fx-rates'),
    output: params.string('output', 'orders-with-customers'),
    unmatched: params.string('unmatched', 'orders-unmatched'),
    deadLetters: params.string('deadLetters', 'orders-with-customers-dead-letters'),
    timeoutMs: nonNegative('timeoutMs', 300_000),
    maxOutOfOrdernessMs: nonNegative('maxOutOfOrdernessMs', 5_000),
    idleMs: nonNegative('idleMs', 10_000),
    transactionalIdPrefix: params.string('txnPrefix', 'orders-with-customers'),
    groupId: params.string('group', 'sluice-orders-with-customers'),
  };
}

/**
 * One input topic, from the earliest offset on a fresh start, bad records to the dead-letter topic exactly once (each
 * source with its own transactional ids, `<txnPrefix>-<input>-dead-letters-…`).
 */
function inputSource<T>(settings: OrdersWithCustomersSettings, input: 'orders' | 'profiles' | 'rates', format: ValueDeserializer<T>): Source<KafkaRecord<T>> {
  return jsonInput({
    brokers: settings.brokers,
    topic: settings[input],
    groupId: `${settings.groupId}-${input}`,
    startFrom: 'earliest',
    format,
    deadLetters: settings.deadLetters,
    deadLetterTransactionalIdPrefix: `${settings.transactionalIdPrefix}-${input}-dead-letters`,
  });
}

export const ordersSource = (settings: OrdersWithCustomersSettings): Source<KafkaRecord<Order>> => inputSource(settings, 'orders', parseOrder);
export const profilesSource = (settings: OrdersWithCustomersSettings): Source<KafkaRecord<ProfileUpdate>> => inputSource(settings, 'profiles', parseProfile);
export const ratesSource = (settings: OrdersWithCustomersSettings): Source<KafkaRecord<RateUpdate>> => inputSource(settings, 'rates', parseRate);

/** Event time from the value's `ts`, a watermark per partition `maxOutOfOrdernessMs` behind its newest record. */
export function eventTime<T extends { readonly ts: number }>(settings: OrdersWithCustomersSettings): WatermarkStrategy<KafkaRecord<T>> {
  return boundedOutOfOrderness({
    maxOutOfOrdernessMs: settings.maxOutOfOrdernessMs,
    timestamp: (record: KafkaRecord<T>) => record.value.ts,
    ...(settings.idleMs > 0 ? { idleAfterMs: settings.idleMs } : {}),
  });
}

/** The output: key = customer, so each customer's orders stay in order. */
export function ordersWithCustomersSink(settings: OrdersWithCustomersSettings): Sink<OrderWithCustomer> {
  return kafkaSink<OrderWithCustomer>({
    brokers: settings.brokers,
    topic: settings.output,
    key: (r) => r.order.customer,
    guarantee: 'exactly-once',
    transactionalIdPrefix: settings.transactionalIdPrefix,
  });
}

/** Unmatched orders of both steps, key = orderId (the two steps' records of a customer interleave in no fixed order). */
export function unmatchedSink(settings: OrdersWithCustomersSettings): Sink<UnmatchedOrder> {
  return kafkaSink<UnmatchedOrder>({
    brokers: settings.brokers,
    topic: settings.unmatched,
    key: (u) => u.order.orderId,
    guarantee: 'exactly-once',
    transactionalIdPrefix: `${settings.transactionalIdPrefix}-unmatched`,
  });
}

export default defineJob(
  // As in orders-enrich.ts: the checkpoint timeout keeps interval + timeout + restart delay within the sinks'
  // transaction timeout (15 min).
  { name: 'orders-with-customers', parallelism: 2, checkpoints: { intervalMs: 1_000, timeoutMs: 60_000 } },
  (env, params) => {
    const settings = ordersWithCustomersSettings(params);
    const orders = env.source(ordersSource(settings), { watermarks: eventTime<Order>(settings) }).uid('orders').map((r) => r.value);
    const profiles = env.source(profilesSource(settings), { watermarks: eventTime<ProfileUpdate>(settings) }).uid('profiles').map((r) => r.value);
    const rates = env.source(ratesSource(settings), { watermarks: eventTime<RateUpdate>(settings) }).uid('rates').map((r) => r.value);

    const withProfiles = orders
      .keyBy((o) => o.customer)
      .connect(profiles.keyBy((p) => p.customer))
      .process(profileJoin(settings.timeoutMs))
      .uid('profile-join');
    const inEur = withProfiles
      .keyBy((j) => j.order.customer)
      .connect(rates.broadcast())
      .process(rateConversion(settings.timeoutMs))
      .uid('eur-conversion');

    inEur.sink(ordersWithCustomersSink(settings)).uid('orders-with-customers');
    withProfiles.sideOutput('unmatched').union(inEur.sideOutput('unmatched')).sink(unmatchedSink(settings)).uid('orders-unmatched');
  },
);

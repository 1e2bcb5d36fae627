/**
 * Orders joined with their shipments by event time (an interval join), Kafka → Kafka exactly-once.
 *
 * Two JSON inputs, each record with its event time `ts` (epoch ms, or ISO 8601 with a zone):
 *
 * - `orders`: `{ orderId, customer, amount, currency?, ts }`, as jobs/orders-with-customers.ts reads them;
 * - `shipments`: `{ shipmentId, orderId, carrier, ts }`, a parcel of an order leaving the warehouse (an order may ship
 *   in several parcels). Producers key both by `orderId`, so an order's records keep their order.
 *
 * Each shipment that leaves within `withinMs` (default 7 days) of its order, at or after it, is joined with it once,
 * as soon as both are read, whichever comes first: `orders-shipped`, key = orderId, value `{ order, shipment,
 * hoursToShip }`, each order's shipments in the order they were read. Shipments outside the window (or of an unknown
 * order) are not joined. Records behind the join's watermark when read (a late order or shipment: more than
 * `maxOutOfOrdernessMs` behind its partition's newest) cannot be joined reliably and go to `orders-shipped-late`,
 * `{ side: 'order' | 'shipment', record }`, instead. Malformed records go to `orders-shipped-dead-letters` with their
 * topic, partition, offset and the reason. All three are transactional, committed with the checkpoints: a
 * `read_committed` consumer sees each once, also across crashes and restarts.
 *
 * Each order waits in keyed state until the watermark passes `ts + withinMs`, each shipment until it passes its `ts`:
 * the state holds about `withinMs` of orders. A partition silent for `idleMs` stops holding time back; `--set idleMs=0`
 * (never idle) keeps replays of old data exact, where inputs are read at different speeds. When one topic has a
 * backlog to catch up on, the other's records wait in the join's state for it; `--set alignMs=3600000` aligns their
 * watermarks instead (docs/event-time.md): a topic (or partition) more than an hour ahead pauses. Not with
 * `idleMs=0`: a topic with nothing more to read would then hold the other back for good.
 *
 * Try it against the devstack: start Kafka (`npx sluice dev`), write some input (this creates the topics), then run
 * `npx sluice run jobs/orders-shipped.ts` in another terminal (KAFKA_BROKERS=host:9092 for another cluster):
 *
 *   node --import tsx -e "
 *     const { Kafka } = await import('kafkajs'); const p = new Kafka({ brokers: ['127.0.0.1:9092'] }).producer();
 *     const t = (h) => Date.parse('2026-03-01T12:00:00Z') + h * 3_600_000;
 *     const send = (topic, key, value) => p.send({ topic, messages: [{ key, value: JSON.stringify(value) }] });
 *     await p.connect();
 *     await send('orders', 'o-1', { orderId: 'o-1', customer: 'alice', amount: 20, ts: t(0) });
 *     await send('shipments', 'o-1', { shipmentId: 's-1', orderId: 'o-1', carrier: 'dhl', ts: t(26) });  // joined: 26 h
 *     await send('shipments', 'o-2', { shipmentId: 's-2', orderId: 'o-2', carrier: 'ups', ts: t(30) });  // waits for o-2
 *     await send('orders', 'o-2', { orderId: 'o-2', customer: 'bob', amount: 5, ts: t(29) });           // joined: 1 h
 *     await send('shipments', 'o-1', 'not a shipment');                                                  // a dead letter
 *     await p.disconnect();"
 *
 * Parameters (`--set k=v`): `brokers=h:p,h:p`, topics `orders`, `shipments`, `output` (orders-shipped), `late`
 * (orders-shipped-late), `deadLetters` (orders-shipped-dead-letters); `withinMs` (604800000), `maxOutOfOrdernessMs`
 * (5000), `idleMs` (10000; 0 = never idle), `alignMs` (0 = not aligned), `txnPrefix` (orders-shipped: transactional ids), `group`
 * (sluice-orders-shipped: consumer groups, + `-orders`, `-shipments`).
 */
import { kafkaSink, type KafkaRecord, type ValueDeserializer } from '../connectors/kafka/index.ts';
import { boundedOutOfOrderness, defineJob, type JobParams, type Source, type WatermarkStrategy } from '../runtime/api/index.ts';
import { brokersParam, jsonInput } from './support/kafka-inputs.ts';
import { jsonObject, nonEmpty, parseOrder, timestampField, type Order } from './orders-with-customers/records.ts';

export { parseOrder, type Order } from './orders-with-customers/records.ts';

/** A parcel of an order leaving the warehouse, from the shipments topic. */
export interface Shipment {
  readonly shipmentId: string;
  readonly orderId: string;
  readonly carrier: string;
  /** Event time: when it left, epoch milliseconds. */
  readonly ts: number;
}

/** What the job writes per order and shipment joined. */
export interface OrderShipped {
  readonly order: Order;
  readonly shipment: Shipment;
  /** From the order to the shipment, in hours. */
  readonly hoursToShip: number;
}

/** A record the join's watermark had passed when it was read. */
export type LateRecord = { readonly side: 'order'; readonly record: Order } | { readonly side: 'shipment'; readonly record: Shipment };

/** Decodes a shipment; throws, naming the field, for a value that breaks the shape (it goes to the dead letters). */
export function parseShipment(value: Buffer | null): Shipment {
  const raw = jsonObject(value, 'shipment', '{ shipmentId, orderId, carrier, ts }');
  const id = (field: string): string => {
    const v = raw[field];
    return typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : nonEmpty('shipment', field, v);
  };
  return { shipmentId: id('shipmentId'), orderId: id('orderId'), carrier: nonEmpty('shipment', 'carrier', raw['carrier']), ts: timestampField('shipment', raw['ts']) };
}

/** Settings of the pipeline, from `--set` parameters (see the header). */
export interface OrdersShippedSettings {
  readonly brokers: string[];
  readonly orders: string;
  readonly shipments: string;
  readonly output: string;
  readonly late: string;
  readonly deadLetters: string;
  /** A shipment joins orders from `withinMs` before it up to its own time. */
  readonly withinMs: number;
  readonly maxOutOfOrdernessMs: number;
  /** 0: partitions never go idle. */
  readonly idleMs: number;
  /** Watermark alignment of the two inputs (and of their partitions): the drift allowed, ms; 0: not aligned. */
  readonly alignMs: number;
  readonly transactionalIdPrefix: string;
  readonly groupId: string;
}

export function ordersShippedSettings(params: JobParams): OrdersShippedSettings {
  const wholeMs = (name: string, fallback: number): number => {
    const n = params.number(name, fallback);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`parameter ${name} must be a whole number of ms ≥ 0, got ${n}`);
    return n;
  };
  return {
    brokers: brokersParam(params),
    orders: params.string('orders', 'orders'),
    shipments: params.string('shipments', 'shipments'),
    output: params.string('output', 'orders-shipped'),
    late: params.string('late', 'orders-shipped-late'),
    deadLetters: params.string('deadLetters', 'orders-shipped-dead-letters'),
    withinMs: wholeMs('withinMs', 7 * 24 * 3_600_000),
    maxOutOfOrdernessMs: wholeMs('maxOutOfOrdernessMs', 5_000),
    idleMs: wholeMs('idleMs', 10_000),
    alignMs: wholeMs('alignMs', 0),
    transactionalIdPrefix: params.string('txnPrefix', 'orders-shipped'),
    groupId: params.string('group', 'sluice-orders-shipped'),
  };
}

/** One input topic from the earliest offset on a fresh start; bad records to the dead-letter topic exactly once. */
function inputSource<T>(settings: OrdersShippedSettings, input: 'orders' | 'shipments', format: ValueDeserializer<T>): Source<KafkaRecord<T>> {
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

/** Event time from the value's `ts`, a watermark per partition `maxOutOfOrdernessMs` behind its newest record. */
function eventTime<T extends { readonly ts: number }>(settings: OrdersShippedSettings): WatermarkStrategy<KafkaRecord<T>> {
  return boundedOutOfOrderness({
    maxOutOfOrdernessMs: settings.maxOutOfOrdernessMs,
    timestamp: (record: KafkaRecord<T>) => record.value.ts,
    ...(settings.idleMs > 0 ? { idleAfterMs: settings.idleMs } : {}),
    // One group for both inputs: the one ahead waits, rather than its records waiting in the join's state.
    ...(settings.alignMs > 0 ? { alignment: { group: 'orders-shipped', maxDriftMs: settings.alignMs } } : {}),
  });
}

export default defineJob(
  // As in orders-with-customers.ts: interval + checkpoint timeout + restart delay stay within the sinks' transaction
  // timeout (15 min).
  { name: 'orders-shipped', parallelism: 2, checkpoints: { intervalMs: 1_000, timeoutMs: 60_000 } },
  (env, params) => {
    const settings = ordersShippedSettings(params);
    const orders = env.source(inputSource(settings, 'orders', parseOrder), { watermarks: eventTime<Order>(settings) }).uid('orders').map((r) => r.value);
    const shipments = env.source(inputSource(settings, 'shipments', parseShipment), { watermarks: eventTime<Shipment>(settings) }).uid('shipments').map((r) => r.value);

    const shipped = orders
      .keyBy((o) => o.orderId)
      .intervalJoin(shipments.keyBy((s) => s.orderId))
      .between(0, settings.withinMs)
      .process({
        processElement: (order, shipment, ctx): OrderShipped => ({ order, shipment, hoursToShip: (ctx.rightTimestamp - ctx.leftTimestamp) / 3_600_000 }),
      })
      .uid('join');
    shipped
      .sink(kafkaSink<OrderShipped>({ brokers: settings.brokers, topic: settings.output, key: (r) => r.order.orderId, guarantee: 'exactly-once', transactionalIdPrefix: settings.transactionalIdPrefix }))
      .uid('orders-shipped');
    shipped
      .lateRecords('left')
      .map((record): LateRecord => ({ side: 'order', record }))
      .union(shipped.lateRecords('right').map((record): LateRecord => ({ side: 'shipment', record })))
      .sink(
        kafkaSink<LateRecord>({
          brokers: settings.brokers,
          topic: settings.late,
          key: (l) => l.record.orderId,
          guarantee: 'exactly-once',
          transactionalIdPrefix: `${settings.transactionalIdPrefix}-late`,
        }),
      )
      .uid('orders-shipped-late');
  },
);

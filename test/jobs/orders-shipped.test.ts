/**
 * jobs/orders-shipped.ts: orders joined with their shipments by event time (an interval join), Kafka → Kafka. The job
 * runs against the test's Kafka (devstack, or KAFKA_BROKERS) with seeded crashes, and what it commits is compared with
 * a brute-force join of the input worked out here: every shipment within the window of its order once, each order's
 * shipments in the order they were written, malformed records as dead letters, nothing late.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import job, { parseShipment, type OrderShipped } from '../../jobs/orders-shipped.ts';
import { JobParams } from '../../runtime/api/index.ts';
import { buildPhysicalPlan } from '../../runtime/graph/plan-builder.ts';
import { readCommittedTopic, startJob, topicEnds, type TopicRecord } from '../../runtime/testing/index.ts';
import { kafkaCluster } from '../support/kafka-cluster.ts';

const PARTITIONS = 3;
const HOUR = 3_600_000;
const WITHIN_MS = 6 * HOUR;
const EPOCH = Date.UTC(2026, 2, 1, 12);

interface Order {
  orderId: string;
  customer: string;
  amount: number;
  currency: string;
  ts: number;
}
interface Shipment {
  shipmentId: string;
  orderId: string;
  carrier: string;
  ts: number;
}
/** A line of an input topic: its partition (that of its order), its value, and the record it holds when valid. */
interface Line<T> {
  readonly partition: number;
  readonly key: string;
  readonly value: string;
  readonly record?: T;
}

/**
 * 120 orders, one a minute; order `i` ships in `i % 4` parcels, 0–9 hours after it (those past 6 hours are not
 * joined), plus shipments of an order that does not exist and a malformed line in each topic. Each partition's lines
 * are in time order, so nothing is late and the result does not depend on how the two topics interleave.
 */
function input(): { orders: Line<Order>[]; shipments: Line<Shipment>[] } {
  const orders: Line<Order>[] = [];
  const shipments: Line<Shipment>[] = [];
  for (let i = 0; i < 120; i++) {
    const order: Order = { orderId: `o-${i}`, customer: `c-${i % 9}`, amount: 5 + (i % 11), currency: 'EUR', ts: EPOCH + i * 60_000 };
    orders.push({ partition: i % PARTITIONS, key: order.orderId, value: JSON.stringify(order), record: order });
    for (let m = 0; m < i % 4; m++) {
      const shipment: Shipment = { shipmentId: `s-${i}-${m}`, orderId: order.orderId, carrier: ['dhl', 'ups', 'gls'][m] as string, ts: order.ts + ((i * 7 + m * 13) % 10) * HOUR + m };
      shipments.push({ partition: i % PARTITIONS, key: order.orderId, value: JSON.stringify(shipment), record: shipment });
    }
  }
  const stray: Shipment = { shipmentId: 's-stray', orderId: 'o-none', carrier: 'dhl', ts: EPOCH + HOUR };
  shipments.push({ partition: 0, key: stray.orderId, value: JSON.stringify(stray), record: stray });
  orders.push({ partition: 1, key: 'o-bad', value: '{"orderId":"o-bad","customer":"c-1"}' }); // no amount, no ts: a dead letter
  shipments.push({ partition: 2, key: 'o-2', value: 'not a shipment' });
  // Time order within each partition; a malformed line goes last.
  const timeOrder = <T extends { ts: number }>(a: Line<T>, b: Line<T>): number => (a.record?.ts ?? Infinity) - (b.record?.ts ?? Infinity);
  return { orders: orders.sort(timeOrder), shipments: shipments.sort(timeOrder) };
}

/** Per order, what the job must write: each of its shipments within 0–6 hours after it, in time order. */
function expected(data: ReturnType<typeof input>): Map<string, OrderShipped[]> {
  const out = new Map<string, OrderShipped[]>();
  for (const { record: s } of data.shipments) {
    const o = data.orders.find((l) => l.record?.orderId === s?.orderId)?.record;
    if (s === undefined || o === undefined || s.ts < o.ts || s.ts > o.ts + WITHIN_MS) continue;
    out.set(o.orderId, [...(out.get(o.orderId) ?? []), { order: o, shipment: s, hoursToShip: (s.ts - o.ts) / HOUR }]);
  }
  return out;
}

test('shipments are parsed with their ids as strings; a bad one names its field', () => {
  const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
  assert.deepEqual(parseShipment(json({ shipmentId: 7, orderId: ' o-1 ', carrier: 'dhl', ts: '2026-03-01T12:00:00Z' })), {
    shipmentId: '7',
    orderId: 'o-1',
    carrier: 'dhl',
    ts: Date.UTC(2026, 2, 1, 12),
  });
  assert.throws(() => parseShipment(null), /shipment value is null \(a tombstone\)/);
  assert.throws(() => parseShipment(json({ shipmentId: 's', orderId: '', carrier: 'dhl', ts: 1 })), /shipment field "orderId" must be a non-empty string/);
  assert.throws(() => parseShipment(json({ shipmentId: 's', orderId: 'o', carrier: 'dhl', ts: 1.5 })), /"ts" must be epoch milliseconds/);
});

test('alignMs aligns the watermarks of both inputs in one group; without it neither is aligned', () => {
  const sources = (params: Record<string, string>) =>
    buildPhysicalPlan(job, { params: new JobParams(Object.entries({ brokers: 'localhost:9092', ...params })) })
      .stages.map((s) => s.operators[0]?.node)
      .filter((n) => n?.kind === 'source')
      .map((n) => (n?.kind === 'source' ? n.watermarks?.alignment : undefined));
  assert.deepEqual(sources({ alignMs: '3600000' }), [
    { group: 'orders-shipped', maxDriftMs: 3_600_000 },
    { group: 'orders-shipped', maxDriftMs: 3_600_000 },
  ]);
  assert.deepEqual(sources({}), [undefined, undefined]);
});

test('orders-shipped under seeded crashes commits every shipment within the window of its order once, in order per order', { timeout: 120_000 }, async (t) => {
  const data = input();
  const want = expected(data);
  assert.ok(want.size > 30 && [...want.values()].some((s) => s.length > 1), 'orders with one and with several shipments joined');
  const cluster = await kafkaCluster(t);
  const topics = {
    orders: await cluster.createTopic({ prefix: 'orders', partitions: PARTITIONS }),
    shipments: await cluster.createTopic({ prefix: 'shipments', partitions: PARTITIONS }),
    output: await cluster.createTopic({ prefix: 'orders-shipped', partitions: PARTITIONS }),
    late: await cluster.createTopic({ prefix: 'orders-shipped-late', partitions: 1 }),
    deadLetters: await cluster.createTopic({ prefix: 'orders-shipped-dead-letters', partitions: 1 }),
  };
  const producer = await cluster.producer();
  for (const name of ['orders', 'shipments'] as const) {
    const lines: ReadonlyArray<Line<unknown>> = data[name];
    await producer.send({ topic: topics[name], messages: lines.map((l) => ({ key: l.key, value: l.value, partition: l.partition })) });
  }

  const run = await startJob(job, {
    params: { brokers: cluster.brokers.join(','), ...topics, withinMs: String(WITHIN_MS), idleMs: '0', txnPrefix: cluster.uniqueName('osh'), group: cluster.uniqueName('osh') },
    checkpointIntervalMs: 100,
    faults: { crashes: 3, seed: 3 },
  });
  cluster.defer(() => run.close());
  const ends = { orders: await topicEnds(cluster.brokers, topics.orders), shipments: await topicEnds(cluster.brokers, topics.shipments) };
  // Every fault fired, and two checkpoints of the last attempt cover the input: the sinks committed the first's
  // transactions before the second completed.
  await run.until(
    () => {
      if (run.faults.pending > 0) return false;
      const attempt = run.events.findLastIndex((e) => e.type === 'attempt-started');
      return run.events.slice(attempt).filter((e) => e.type === 'checkpoint-completed' && coversAll(e.manifest.sourcePositions, ends)).length >= 2;
    },
    { timeoutMs: 90_000 },
  );
  assert.equal(await run.stop(), 'cancelled');
  assert.equal(run.faults.fired.length, 3);

  const [output, late, deadLetters] = await Promise.all([readCommittedTopic(cluster.brokers, topics.output), readCommittedTopic(cluster.brokers, topics.late), readCommittedTopic(cluster.brokers, topics.deadLetters)]);
  const byOrder = new Map<string, unknown[]>();
  for (const r of inLogOrder(output)) byOrder.set(r.key as string, [...(byOrder.get(r.key as string) ?? []), JSON.parse(r.value)]);
  assert.deepEqual([...byOrder.keys()].sort(), [...want.keys()].sort());
  for (const [orderId, records] of want) assert.deepEqual(byOrder.get(orderId), records, `the shipments of ${orderId}`);
  assert.deepEqual(late, [], 'nothing late: each partition is in time order');
  const letters = deadLetters.map((r) => JSON.parse(r.value) as { topic: string; value: string; reason: string });
  assert.deepEqual(letters.map((l) => [l.topic, l.value]).sort(), [
    [topics.orders, '{"orderId":"o-bad","customer":"c-1"}'],
    [topics.shipments, 'not a shipment'],
  ]);
});

function coversAll(positions: Readonly<Record<string, ReadonlyArray<{ split: string; position: unknown }>>>, ends: Record<string, Record<string, number>>): boolean {
  return Object.entries(ends).every(([uid, splits]) => Object.entries(splits).every(([split, end]) => end === 0 || Number(positions[uid]?.find((p) => p.split === split)?.position) >= end));
}

function inLogOrder(records: readonly TopicRecord[]): TopicRecord[] {
  return [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

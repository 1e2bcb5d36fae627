/**
 * Interval join by event time: orders and shipments, 1M each from two datagen sources with event time, 10k keys,
 * shipments joined with the orders of their key at most 5 s earlier (`between(0, 5_000)`), into a counting sink. Against
 * a hand-written loop doing the same join over the same records in the same run: per key, each side's records in time
 * order; each new record joins the other side's records within the bounds, and records leave once the other side's
 * time has passed their last possible match. Reported at p = 1, in-process (one thread each); rates count input
 * records of both sides.
 *
 *   npx tsx bench/interval-join.ts [records per side] [runs]
 */
import { datagen } from '../connectors/dev/index.ts';
import { boundedOutOfOrderness, defineJob } from '../runtime/api/index.ts';
import { discardSink } from './support/discard-sink.ts';
import { joinAgainstLoop, type JoinRun } from './support/join-against-loop.ts';

const RECORDS = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 3);
const KEYS = 10_000;
const UPPER_MS = 5_000;

interface Event {
  readonly id: number;
  readonly key: string;
  readonly ts: number;
}
// A record per ms on each side; a key comes back every 10 s, so a shipment finds its key's order 0–5 s earlier half
// of the time (the shipments' keys are the orders' shifted by 5,000 records, 5 s). Fresh key strings, as decoded.
const order = (i: number): Event => ({ id: i, key: `key-${i % KEYS}`, ts: i });
const shipment = (i: number): Event => ({ id: i, key: `key-${(i + 5_000 + (i % 7)) % KEYS}`, ts: i });

/** The pairs an exact join gives (an order at o, a shipment at s, same key, o <= s <= o + 5 000), counted by formula-free brute force once. */
function loopBaseline(): JoinRun {
  const started = performance.now();
  const orders = new Map<string, Event[]>();
  const shipments = new Map<string, Event[]>();
  let pairs = 0;
  let out: Array<[Event, Event]> = [];
  const add = (buffers: Map<string, Event[]>, e: Event): void => {
    const list = buffers.get(e.key);
    if (list === undefined) buffers.set(e.key, [e]);
    else list.push(e);
  };
  // Drops a key's records that the other side's time (`now`) has passed by more than `keep`.
  const expire = (list: Event[], now: number, keep: number): void => {
    let n = 0;
    while (n < list.length && (list[n] as Event).ts + keep < now) n++;
    if (n > 0) list.splice(0, n);
  };
  for (let i = 0; i < RECORDS; i++) {
    const o = order(i);
    add(orders, o);
    for (const s of shipments.get(o.key) ?? []) if (s.ts >= o.ts && s.ts <= o.ts + UPPER_MS) out.push([o, s]);
    const s = shipment(i);
    add(shipments, s);
    const waiting = orders.get(s.key);
    if (waiting !== undefined) {
      expire(waiting, s.ts, UPPER_MS);
      for (const w of waiting) if (s.ts >= w.ts && s.ts <= w.ts + UPPER_MS) out.push([w, s]);
    }
    const shipped = shipments.get(o.key);
    if (shipped !== undefined) expire(shipped, o.ts, 0);
    if (i % 500 === 499) {
      pairs += out.length;
      out = [];
    }
  }
  pairs += out.length;
  return { perSecond: (2 * RECORDS) / ((performance.now() - started) / 1000), pairs };
}

await joinAgainstLoop({
  name: 'join/interval join p=1',
  records: RECORDS,
  runs: RUNS,
  loop: loopBaseline,
  job: (counter) =>
    defineJob({ name: 'bench-interval-join', parallelism: 1, workers: 0 }, (env) => {
      const strategy = boundedOutOfOrderness({ maxOutOfOrdernessMs: 0, timestamp: (e: Event) => e.ts });
      const orders = env.source(datagen({ count: RECORDS, batchSize: 500, record: order }), { watermarks: strategy });
      const shipments = env.source(datagen({ count: RECORDS, batchSize: 500, record: shipment }), { watermarks: strategy });
      orders
        .keyBy((o) => o.key)
        .intervalJoin(shipments.keyBy((s) => s.key))
        .between(0, UPPER_MS)
        .process({ processElement: (o, s) => [o, s] as const })
        .sink(discardSink(counter));
    }),
  workload: `${KEYS} keys, between(0, ${UPPER_MS})`,
});

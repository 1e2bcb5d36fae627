/**
 * The DSL's types are part of its behaviour: a job that wires a stream into an operator of the wrong type must not
 * compile. The `// @ts-expect-error` lines below are checked by `tsc --noEmit` (run by `npm test`): if a mismatch
 * ever compiles, the unused directive is itself an error. The type checks live in functions that are never called
 * (several would throw if run); the runtime tests at the bottom run jobs whose types were inferred the same way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, CollectTarget, collection } from '../../../connectors/dev/index.ts';
import {
  defineJob,
  tumblingWindows,
  valueState,
  mapState,
  listState,
  type OperatorStream,
  type JoinedStream,
  type ProcessedStream,
  type Stream,
  type Sink,
  type StreamEnvironment,
  type TimeWindow,
} from '../../../runtime/api/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';

interface Click {
  user: string;
  url: string;
}

/** Asserts at compile time that `A` and `B` are the same type. */
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_proof?: T): void {}

export function mapOutputFlowsOn(env: StreamEnvironment): void {
  const lengths = env.source(collection(['a', 'bb'])).map((s) => s.length);
  assertType<Equal<typeof lengths, OperatorStream<number, string>>>();
  lengths.map((n) => n.toFixed(1)); // number methods on a number stream compile
  const strings = env.source(collection([1, 2])).map((n) => String(n));
  // @ts-expect-error: the stream carries strings after map(String); toFixed is a number method
  strings.map((s) => s.toFixed(2));
  // flatMap and filter carry their element types too.
  const words = env.source(collection(['a b'])).flatMap((line) => line.split(' '));
  assertType<Equal<typeof words, OperatorStream<string, string>>>();
  // @ts-expect-error: words are strings, not numbers
  words.filter((w) => w > 3 && w.toFixed() === '');
  // A type-guard filter narrows.
  const maybe = env.source(collection<string | undefined>(['a', undefined])).filter((s): s is string => s !== undefined);
  assertType<Equal<typeof maybe, OperatorStream<string, string | undefined>>>();
}

export function sinkTypeMustMatch(env: StreamEnvironment, numbers: Sink<number>, clicks: Sink<Click>): void {
  const strings = env.source(collection(['a']));
  strings.map((s) => s.length).sink(numbers); // matching: compiles
  // @ts-expect-error: a Sink<number> cannot take a stream of strings
  strings.sink(numbers);
  // @ts-expect-error: a Sink<number> cannot take a stream of strings (collectSink inferred from its target)
  strings.sink(collectSink(new CollectTarget<number>()));
  // @ts-expect-error: a record missing fields the sink's records have (url) is rejected
  strings.map((user) => ({ user })).sink(clicks);
}

export function reduceNeedsKeyBy(env: StreamEnvironment): void {
  const counts = env.source(collection([{ word: 'a', count: 1 }]));
  // @ts-expect-error: reduce exists only on a KeyedStream (after keyBy)
  counts.reduce((a, b) => ({ word: a.word, count: a.count + b.count }));
  const reduced = counts.keyBy((c) => c.word).reduce((a, b) => ({ word: a.word, count: a.count + b.count }));
  assertType<Equal<typeof reduced, OperatorStream<{ word: string; count: number }, { word: string; count: number }>>>();
  // @ts-expect-error: the reduce function must return the stream's own type
  counts.keyBy((c) => c.word).reduce((a, b) => a.count + b.count);
}

export function keySelectorMustReturnStringOrNumber(env: StreamEnvironment): void {
  const clicks = env.source(collection<Click>([]));
  clicks.keyBy((c) => c.user); // string key: compiles
  clicks.keyBy((c) => c.url.length); // number key: compiles
  // @ts-expect-error: an object is not a key (keys are hashed as String(key))
  clicks.keyBy((c) => ({ user: c.user }));
  // @ts-expect-error: neither is a boolean
  clicks.keyBy((c) => c.user === 'x');
}

export function declaredStateIsTyped(env: StreamEnvironment): void {
  const clicks = env.source(collection<Click>([]));
  clicks.keyBy((c) => c.user).process({
    state: { count: valueState<number>(), perUrl: mapState<string, number>(), seen: listState<string>() },
    processElement(click, ctx) {
      const count = (ctx.state.count.value() ?? 0) + 1;
      ctx.state.count.update(count);
      ctx.state.perUrl.put(click.url, count);
      ctx.state.seen.add(click.url);
      // @ts-expect-error: count is declared valueState<number>(); a string is rejected
      ctx.state.count.update('x');
      // @ts-expect-error: perUrl maps strings to numbers
      ctx.state.perUrl.put(click.url, 'one');
      // @ts-expect-error: undeclared state does not exist
      ctx.state.missing.value();
      // The key has the selector's type.
      const key: string = ctx.key;
      // @ts-expect-error: the key is a string, not a number
      const wrong: number = ctx.key;
      void key;
      void wrong;
    },
  });
}

export function keyedProcessOutputFlowsOn(env: StreamEnvironment, numbers: Sink<number>): void {
  const clicks = env.source(collection<Click>([]));
  // Output inferred from the returned value. (Only when processElement does not declare `ctx`: with a `ctx`
  // parameter TypeScript fixes U to `unknown` before it sees the return value; see the test report.)
  const returned = clicks.keyBy((c) => c.user).process({
    processElement(click) {
      return { user: click.user, length: click.url.length };
    },
  });
  assertType<Equal<typeof returned, ProcessedStream<{ user: string; length: number }, Click, Record<never, never>>>>();
  returned.map((r) => r.length.toFixed(0));
  // @ts-expect-error: the inferred output has no `url` field
  returned.map((r) => r.url);
  // @ts-expect-error: a stream of objects cannot go to a Sink<number>
  returned.sink(numbers);

  // Output stated as a type argument: ctx.emit takes it and the stream after carries it.
  const emitted = clicks.keyBy((c) => c.user).process<number>({
    processElement(click, ctx) {
      ctx.emit(click.url.length);
      // @ts-expect-error: this process emits numbers
      ctx.emit(click.url);
    },
  });
  assertType<Equal<typeof emitted, ProcessedStream<number, Click, Record<never, never>>>>();
  emitted.sink(numbers);
  // @ts-expect-error: numbers, not strings, flow on
  emitted.map((n) => n.toUpperCase());
}

test('a job built with inferred types runs and delivers typed records', async () => {
  const target = new CollectTarget<{ user: string; clicks: number }>();
  const job = defineJob({ name: 'types-runtime', parallelism: 2 }, (env) => {
    env
      .source(
        collection<Click>([
          { user: 'ann', url: '/a' },
          { user: 'bob', url: '/b' },
          { user: 'ann', url: '/c' },
        ]),
      )
      .keyBy((c) => c.user)
      .process({ processElement: (click) => ({ user: click.user, clicks: 1 }) })
      .keyBy((c) => c.user)
      .reduce((a, b) => ({ user: a.user, clicks: a.clicks + b.clicks }))
      .sink(collectSink(target));
  });
  assert.equal(await new JobRunner({ job }).run(), 'finished');
  const finalByUser = new Map(target.records.map((r) => [r.user, r.clicks]));
  assert.deepEqual(Object.fromEntries(finalByUser), { ann: 2, bob: 1 });
  assert.equal(target.records.length, 3);
});

test('map output flows into the next operator at runtime as the types say', async () => {
  const target = new CollectTarget<string>();
  const job = defineJob({ name: 'types-map' }, (env) => {
    env
      .source(collection([1.5, 2.25]))
      .map((n) => n * 2)
      .map((n) => n.toFixed(1))
      .sink(collectSink(target));
  });
  await new JobRunner({ job }).run();
  assert.deepEqual(target.records, ['3.0', '4.5']);
});

export function connectNeedsOneKeyType(env: StreamEnvironment): void {
  const a = env.source(collection<{ id: number; amount: number }>([]));
  const b = env.source(collection<{ id: number; name: string }>([]));
  // Both sides keyed by a number: compiles, and both functions see that key.
  const joined = a
    .keyBy((x) => x.id)
    .connect(b.keyBy((y) => y.id))
    .process({
      processElement1(x, ctx): string {
        const key: number = ctx.key;
        return `${key}: ${x.amount}`;
      },
      processElement2(y): string {
        return y.name;
      },
    });
  assertType<Equal<typeof joined, ProcessedStream<string, { id: number; amount: number } | { id: number; name: string }, Record<never, never>>>>();
  // @ts-expect-error: a stream keyed by a number cannot be connected to one keyed by a string
  a.keyBy((x) => x.id).connect(b.keyBy((y) => y.name));

  // A broadcast stream connects to a keyed stream of any key; its state is read-only on the keyed side.
  a.keyBy((x) => x.id)
    .connect(b.broadcast())
    .process({
      broadcastState: { names: mapState<number, string>() },
      processElement(x, ctx): string | void {
        // @ts-expect-error: the keyed side cannot write broadcast state
        ctx.broadcast.names.put(x.id, 'x');
        return ctx.broadcast.names.get(x.id);
      },
      processBroadcastElement(y, ctx) {
        ctx.broadcast.names.put(y.id, y.name);
      },
    });
}

interface Shipped {
  key: number;
  amount: number;
  carrier: string;
  at: number;
}

export function intervalJoinTypes(env: StreamEnvironment): void {
  const orders = env.source(collection<{ id: number; amount: number }>([]));
  const shipments = env.source(collection<{ orderId: number; carrier: string }>([]));
  const shipped = orders
    .keyBy((o) => o.id)
    .intervalJoin(shipments.keyBy((s) => s.orderId))
    .between(0, 60_000)
    .process({
      // As with every process function, the return type annotated is the output type (docs/jobs.md).
      processElement(order, shipment, ctx): Shipped {
        const key: number = ctx.key;
        return { key, amount: order.amount, carrier: shipment.carrier, at: ctx.timestamp };
      },
    });
  // The late records of each side keep that side's type.
  assertType<Equal<typeof shipped, JoinedStream<Shipped, { id: number; amount: number }, { orderId: number; carrier: string }, Record<never, never>>>>();
  const lateOrders: Stream<{ id: number; amount: number }> = shipped.lateRecords('left');
  void lateOrders;
  const lateShipments: Stream<{ orderId: number; carrier: string }> = shipped.lateRecords('right');
  void lateShipments;
  // @ts-expect-error: a stream keyed by a number cannot be joined with one keyed by a string
  orders.keyBy((o) => o.id).intervalJoin(shipments.keyBy((s) => s.carrier));
}

export function windowJoinTypes(env: StreamEnvironment): void {
  const clicks = env.source(collection<{ ad: string; id: number }>([]));
  const views = env.source(collection<{ ad: string; user: string }>([]));
  const windowed = clicks.keyBy((c) => c.ad).windowJoin(views.keyBy((v) => v.ad), tumblingWindows({ sizeMs: 60_000 }));
  const pairs = windowed.process({ processElement: (click, view, ctx): string => `${ctx.key}:${click.id}:${view.user}:${ctx.window.start}` });
  assertType<Equal<typeof pairs, JoinedStream<string, { ad: string; id: number }, { ad: string; user: string }, Record<never, never>>>>();
  const counts = windowed.coGroup({ process: (cs, vs): number => cs.length - vs.length });
  assertType<Equal<typeof counts, JoinedStream<number, { ad: string; id: number }, { ad: string; user: string }, Record<never, never>>>>();
  // @ts-expect-error: a stream keyed by a string cannot be joined with one keyed by a number
  clicks.keyBy((c) => c.ad).windowJoin(clicks.keyBy((c) => c.id), tumblingWindows({ sizeMs: 1_000 }));
}

export function countWindowTypes(env: StreamEnvironment): void {
  const readings = env.source(collection<{ sensor: string; value: number }>([])).keyBy((r) => r.sensor);
  const sums = readings.countWindow(10).reduce((a, b) => ({ sensor: a.sensor, value: a.value + b.value }));
  assertType<Equal<typeof sums, OperatorStream<{ sensor: string; value: number }, { sensor: string; value: number }>>>();
  // One aggregate serves time and count windows: a count window has a time window's shape.
  const mean = { createAccumulator: () => ({ sum: 0, n: 0 }), add: (a: { sum: number; n: number }, r: { value: number }) => ({ sum: a.sum + r.value, n: a.n + 1 }), result: (a: { sum: number; n: number }, window: TimeWindow) => ({ upTo: window.end, mean: a.sum / a.n }) };
  const means = readings.countWindow(10, 5).aggregate(mean);
  assertType<Equal<typeof means, OperatorStream<{ upTo: number; mean: number }, { sensor: string; value: number }>>>();
  const sizes = readings.countWindow(3).process({ process: (records, ctx): string => `${ctx.key}:${ctx.window.start}:${records.length}` });
  assertType<Equal<typeof sizes, OperatorStream<string, { sensor: string; value: number }>>>();
}

export function allWindowTypes(env: StreamEnvironment): void {
  const events = env.source(collection<{ user: string; ts: number }>([]));
  const perMinute = events.windowAll(tumblingWindows({ sizeMs: 60_000 })).aggregate({ createAccumulator: () => 0, add: (n: number) => n + 1, result: (n, window) => ({ minute: window.start, n }) });
  const rows: Stream<{ minute: number; n: number }> = perMinute;
  void rows;
  const users = events.countWindowAll(10).process({ process: (es, ctx): string => `${ctx.key}:${es.map((e) => e.user).join(',')}` });
  assertType<Equal<typeof users, OperatorStream<string, { user: string; ts: number }>>>();
}

// The job of bench/join.ts, in its own module because workers import it: two datagen sources (orders, updates) keyed
// by the same key and connected; the right side's latest value per key lives in valueState, and every order is
// emitted once, joined with it: at once when its key has a value, when the key's first update arrives otherwise
// (buffered in listState until then). With records ≥ KEYS every order's key gets an update, so the job emits exactly
// `records` joins however the two inputs interleave; the sink counts them in a connector metric. Params: records (per
// side), parallelism (the sources' splits; give the runner the same parallelism).
import { datagen } from '../../connectors/dev/index.ts';
import { defineJob, listState, valueState, type Sink } from '../../runtime/api/index.ts';

export const KEYS = 100_000;

export interface Order {
  readonly id: number;
  readonly key: string;
}
export interface Update {
  readonly key: string;
  readonly value: number;
}
export interface Joined {
  readonly id: number;
  readonly key: string;
  readonly value: number;
}

// Keys are built per record, like keys decoded from Kafka: fresh strings that the first Map lookup must hash. The
// updates visit the keys in another order (7,919 is prime to KEYS), so early orders find no value yet and wait.
export const makeOrder = (i: number): Order => ({ id: i, key: `key-${i % KEYS}` });
export const makeUpdate = (i: number): Update => ({ key: `key-${(i * 7_919) % KEYS}`, value: i });

/** The connector metric the sink's writers count records in: the runner has it from every subtask, on workers too. */
export const JOINED_METRIC = 'sluice_bench_joined_records_total';

/** bench/support/discard-sink.ts, counting in a connector metric (a counter in the job's module stays in its worker). */
function countingSink<T>(): Sink<T> {
  return {
    name: 'discard',
    createWriter: () => {
      let written = 0;
      return {
        start: async () => {},
        write(records) {
          written += records.length;
        },
        preCommit: async () => undefined,
        commit: async () => {},
        finish: async () => {},
        close: async () => {},
        metrics: () => [{ name: JOINED_METRIC, help: 'Joined records the bench sink received.', type: 'counter', value: written }],
      };
    },
  };
}

export default defineJob({ name: 'bench-join', parallelism: 1 }, (env, params) => {
  const records = params.number('records', 5_000_000);
  const parallelism = params.number('parallelism', 1);
  const orders = env.source(datagen({ count: records, splits: parallelism, record: makeOrder })).uid('orders');
  const updates = env.source(datagen({ count: records, splits: parallelism, record: makeUpdate })).uid('updates');
  orders
    .keyBy((o) => o.key)
    .connect(updates.keyBy((u) => u.key))
    .process({
      state: { value: valueState<number>(), waiting: listState<Order>() },
      processElement1(order, ctx): Joined | void {
        const value = ctx.state.value.value();
        if (value === undefined) {
          ctx.state.waiting.add(order);
          return;
        }
        return { id: order.id, key: order.key, value };
      },
      processElement2(update, ctx): void {
        // Only a key's first update can find orders waiting: once it has a value, no order waits.
        if (ctx.state.value.value() === undefined) {
          for (const order of ctx.state.waiting.get()) ctx.emit({ id: order.id, key: order.key, value: update.value });
          ctx.state.waiting.clear();
        }
        ctx.state.value.update(update.value);
      },
    })
    .uid('join')
    .sink(countingSink<Joined>())
    .uid('out');
});

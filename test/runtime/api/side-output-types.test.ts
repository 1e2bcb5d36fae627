/**
 * Side outputs and error outputs are typed end to end: `ctx.output` takes only declared names with values of their
 * type, `.sideOutput(name)` is a stream of that type, and `.errors()` carries the operator's input type. The
 * `// @ts-expect-error` lines are checked by `tsc --noEmit` (run by `npm test`); the functions are never called.
 */
import { test } from 'node:test';
import { collection } from '../../../connectors/dev/index.ts';
import { sideOutput, type FailedRecord, type Sink, type Stream, type StreamEnvironment } from '../../../runtime/api/index.ts';

interface Order {
  id: string;
  total: number;
}

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_proof?: T): void {}

export function sideOutputsAreTyped(env: StreamEnvironment, orders: Sink<Order>, numbers: Sink<number>): void {
  const checked = env
    .source(collection<Order>([]))
    .keyBy((o) => o.id)
    .process({
      outputs: { large: sideOutput<Order>(), totals: sideOutput<number>() },
      processElement(order, ctx): Order | void {
        ctx.output('totals', order.total);
        // @ts-expect-error: "totals" carries numbers
        ctx.output('totals', order.id);
        // @ts-expect-error: "small" is not declared
        ctx.output('small', order);
        if (order.total > 100) ctx.output('large', order);
        else return order;
      },
    });
  const large = checked.sideOutput('large');
  assertType<Equal<typeof large, Stream<Order>>>();
  large.sink(orders);
  checked.sideOutput('totals').sink(numbers);
  // @ts-expect-error: side output "totals" is a stream of numbers, not orders
  checked.sideOutput('totals').sink(orders);
  // @ts-expect-error: "small" is not declared
  checked.sideOutput('small');
}

export function errorOutputsCarryTheInputType(env: StreamEnvironment): void {
  const parsed = env.source(collection<string>([])).map((line) => JSON.parse(line) as Order);
  const errors = parsed.errors();
  assertType<Equal<typeof errors, Stream<FailedRecord<string>>>>();
  errors.map((e) => e.record.toUpperCase() + e.error.message);
  // @ts-expect-error: the failed record is the map's input, a string
  errors.map((e) => e.record.total);
}

test('side outputs and error outputs are typed (checked by tsc)', () => {});

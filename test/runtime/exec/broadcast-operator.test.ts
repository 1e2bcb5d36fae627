/**
 * The keyed broadcast operator on its own: the keyed side reads broadcast state and cannot write it, a broadcast
 * record visits every key's state (applyToKeyedState), and broadcast state is checkpointed by subtask 0 only and
 * restored to every subtask of a new parallelism.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapState, valueState, type KeyedBroadcastProcessFunction, type ReadOnlyMapState } from '../../../runtime/api/index.ts';
import type { Downstream } from '../../../runtime/exec/operators/chained-operator.ts';
import { KeyedBroadcastProcessOperator } from '../../../runtime/exec/operators/connected-operators.ts';
import { unpackValue } from '../../../runtime/serde/index.ts';
import { keyGroupOf, ownerOfKeyGroup, type MapState } from '../../../runtime/state/index.ts';
import { ManualClock } from '../../../runtime/time/index.ts';

interface Click {
  readonly user: string;
}
type Command = { readonly kind: 'multiplier'; readonly value: number } | { readonly kind: 'report' } | { readonly kind: 'reset' };

const state = { clicks: valueState<number>() };
const broadcastState = { settings: mapState<string, number>() };

const fn: KeyedBroadcastProcessFunction<Click, Command, string, unknown, typeof state, typeof broadcastState> = {
  state,
  broadcastState,
  processElement(click, ctx) {
    const clicks = (ctx.state.clicks.value() ?? 0) + 1;
    ctx.state.clicks.update(clicks);
    // The keyed side sees a read-only view: it has no put.
    assert.equal((ctx.broadcast.settings as ReadOnlyMapState<string, number> & Partial<MapState<string, number>>).put, undefined);
    return { user: click.user, weighted: clicks * (ctx.broadcast.settings.get('multiplier') ?? 1) };
  },
  processBroadcastElement(command, ctx) {
    if (command.kind === 'multiplier') ctx.broadcast.settings.put('multiplier', command.value);
    if (command.kind === 'report') ctx.applyToKeyedState('clicks', (user, clicks) => ctx.emit({ user, clicks: clicks.value() }));
    if (command.kind === 'reset') ctx.applyToKeyedState('clicks', (_user, clicks) => clicks.clear());
  },
};

function operator(subtask: number, parallelism: number, out: unknown[], restored?: readonly unknown[]): KeyedBroadcastProcessOperator {
  const next: Downstream<unknown> = {
    process: (records) => void out.push(...records),
    processWatermark: () => undefined,
  };
  return new KeyedBroadcastProcessOperator(
    { job: 'broadcast', uid: 'weigh', subtask, parallelism },
    { keySelector: ((c: Click) => c.user) as never, maxParallelism: 128, restored: undefined, restoredOperatorState: restored },
    fn as never,
    new ManualClock(0),
    next,
  );
}

test('broadcast state: read on the keyed side, written by broadcast records, which can visit every key’s state', async () => {
  const out: unknown[] = [];
  const op = operator(0, 1, out);
  await op.open();
  const [keyed, broadcast] = op.inputs as [Downstream<unknown>, Downstream<unknown>];
  keyed.process([{ user: 'a' }, { user: 'b' }]);
  broadcast.process([{ kind: 'multiplier', value: 10 }]);
  keyed.process([{ user: 'a' }]);
  broadcast.process([{ kind: 'report' }]);
  broadcast.process([{ kind: 'reset' }, { kind: 'report' }]);
  keyed.process([{ user: 'b' }]);
  assert.deepEqual(out, [
    { user: 'a', weighted: 1 },
    { user: 'b', weighted: 1 },
    { user: 'a', weighted: 20 },
    { user: 'a', clicks: 2 },
    { user: 'b', clicks: 1 },
    // After the reset no key has state: the second report visits none.
    { user: 'b', weighted: 10 },
  ]);
});

test('broadcast state is checkpointed by subtask 0 only and restored to every subtask of another parallelism', async () => {
  const [first, second] = [operator(0, 2, []), operator(1, 2, [])];
  await first.open();
  await second.open();
  for (const op of [first, second]) (op.inputs[1] as Downstream<unknown>).process([{ kind: 'multiplier', value: 3 }]);
  const snapshots = [await first.snapshot(1), await second.snapshot(1)];
  assert.notEqual(snapshots[0]?.operator, undefined, 'subtask 0 stores the broadcast state');
  assert.equal(snapshots[1]?.operator, undefined, 'subtask 1 does not store a second copy');
  const stored = [unpackValue(snapshots[0]?.operator as Uint8Array)];
  for (let subtask = 0; subtask < 3; subtask++) {
    const out: unknown[] = [];
    const restored = operator(subtask, 3, out, stored);
    await restored.open();
    // A user whose key group this subtask owns.
    let n = 0;
    while (ownerOfKeyGroup(keyGroupOf(`u${n}`, 128), 3, 128) !== subtask) n++;
    (restored.inputs[0] as Downstream<unknown>).process([{ user: `u${n}` }]);
    assert.deepEqual(out, [{ user: `u${n}`, weighted: 3 }], `subtask ${subtask} of 3 has the multiplier`);
  }
});

/**
 * The two event-time temporal joins of jobs/orders-with-customers.ts. Both keep versions (what a profile or a rate
 * said from which event time on) and decide an order on an event-time timer, once the watermark says that every
 * version up to the time that matters has arrived: the result is the same whatever order the inputs interleave in,
 * so also after a crash and replay.
 */
import { mapState, sideOutput, valueState, type KeyedBroadcastProcessFunction, type KeyedCoProcessFunction, type OutputDeclaration, type StateDeclaration } from '../../runtime/api/index.ts';
import type { Order, OrderWithCustomer, OrderWithProfile, ProfileUpdate, ProfileVersion, RateUpdate, RateVersion, UnmatchedOrder } from './records.ts';

type Unmatched = { unmatched: OutputDeclaration<UnmatchedOrder> };

type ProfileJoinState = { versions: StateDeclaration<'value', ProfileVersion[]>; pending: StateDeclaration<'value', Order[]> };

/**
 * Step 1, keyed by customer: orders (input 1) joined with profile updates (input 2).
 *
 * - Each customer's profile versions are kept in keyed state, sorted by `ts`.
 * - An order waits for an event-time timer at its `ts`. Then it is joined with the latest version with `ts ≤` the
 *   order's (`profileArrivedLater: false`), emitted at the order's time.
 * - If there is none, it waits up to `ts + timeoutMs` for one: it is joined with the first version after its time,
 *   emitted at that version's time (`profileArrivedLater: true`), or, if none came by then, sent to the side output
 *   `unmatched` at `ts + timeoutMs`.
 * - Versions no order can still need (older than the newest one at or before watermark − timeoutMs) are dropped;
 *   the newest version always stays, so the state is the profile table plus recent history.
 *
 * A customer's outputs come in event-time order of their decisions, orders decided together by `(ts, orderId)`.
 *
 * Timers are registered only as records arrive (at times the watermark has not reached), never in `onTimer`: a timer
 * registered there for a time the watermark already passed would fire only at the next watermark, after later
 * timers of the same advance (and not at all if the input pauses), which would make the output order depend on how
 * far each watermark step went.
 */
export function profileJoin(timeoutMs: number): KeyedCoProcessFunction<Order, ProfileUpdate, string, OrderWithProfile, ProfileJoinState, Unmatched> {
  return {
    state: { versions: valueState<ProfileVersion[]>(), pending: valueState<Order[]>() },
    outputs: { unmatched: sideOutput<UnmatchedOrder>() },
    processElement1(order, ctx) {
      const pending = [...(ctx.state.pending.value() ?? []), order].sort((a, b) => a.ts - b.ts || compare(a.orderId, b.orderId));
      ctx.state.pending.update(pending);
      // Every time this order may be decided at: its own, the first later profile version (if one is here already;
      // one that comes later registers itself), and the end of its wait (a no-op if it was decided before).
      ctx.timers.registerEventTimeTimer(order.ts);
      ctx.timers.registerEventTimeTimer(order.ts + timeoutMs);
      const next = earliestAfter(ctx.state.versions.value() ?? [], order.ts);
      if (next !== undefined && next.ts <= order.ts + timeoutMs) ctx.timers.registerEventTimeTimer(next.ts);
    },
    processElement2(update, ctx) {
      const version: ProfileVersion = { ts: update.ts, name: update.name, tier: update.tier };
      ctx.state.versions.update(withoutOld(withVersion(ctx.state.versions.value() ?? [], version), ctx.timers.currentWatermark() - timeoutMs));
      // An order waiting for a later profile is decided when the watermark passes this version.
      if ((ctx.state.pending.value() ?? []).some((o) => o.ts < version.ts && version.ts <= o.ts + timeoutMs)) ctx.timers.registerEventTimeTimer(version.ts);
    },
    onTimer(now, ctx) {
      const versions = ctx.state.versions.value() ?? [];
      const waiting: Order[] = [];
      for (const order of ctx.state.pending.value() ?? []) {
        if (order.ts > now) {
          waiting.push(order);
          continue;
        }
        const atOrderTime = latestAtOrBefore(versions, order.ts);
        const next = atOrderTime === undefined ? earliestAfter(versions, order.ts) : undefined;
        if (atOrderTime !== undefined) ctx.emit({ order, profile: atOrderTime, profileArrivedLater: false });
        else if (next !== undefined && next.ts <= Math.min(now, order.ts + timeoutMs)) ctx.emit({ order, profile: next, profileArrivedLater: true });
        else if (order.ts + timeoutMs <= now) ctx.output('unmatched', { order, reason: 'no-profile' });
        else waiting.push(order);
      }
      if (waiting.length === 0) ctx.state.pending.clear();
      else ctx.state.pending.update(waiting);
      if (versions.length > 1) ctx.state.versions.update(withoutOld(versions, now - timeoutMs));
    },
  };
}

type RateConversionState = { pending: StateDeclaration<'value', Array<{ readonly at: number; readonly joined: OrderWithProfile }>> };
type RateBroadcastState = { rates: StateDeclaration<'map', RateVersion[], string> };

/**
 * Step 2, keyed by customer, connected to the broadcast rate updates: each order converted to EUR with its
 * currency's rate version valid at the order's time.
 *
 * - Rate versions are broadcast state: per currency, sorted by `ts`. Versions no order can still need are dropped
 *   (see below); the newest always stays.
 * - An order from step 1 waits for an event-time timer at its own event time (when step 1 decided it, ≥ the order's
 *   `ts`): then every rate version up to the order's time has arrived. It is converted with the latest version with
 *   `ts ≤` the order's, or, when its currency has none, sent to the side output `unmatched` (`no-rate`). EUR orders
 *   need no rate.
 *
 * Pruning uses the watermark, which differs between subtasks for a moment, so the broadcast state may too; but only
 * versions older than the newest one at or before (watermark − timeoutMs) go, and every order still to come here has
 * an event time above the watermark and a `ts` at most `timeoutMs` below that: no subtask (nor one restored from
 * another's copy at a checkpoint) drops a version it could still need.
 */
export function rateConversion(timeoutMs: number): KeyedBroadcastProcessFunction<OrderWithProfile, RateUpdate, string, OrderWithCustomer, RateConversionState, RateBroadcastState, Unmatched> {
  return {
    state: { pending: valueState<Array<{ readonly at: number; readonly joined: OrderWithProfile }>>() },
    broadcastState: { rates: mapState<string, RateVersion[]>() },
    outputs: { unmatched: sideOutput<UnmatchedOrder>() },
    processElement(joined, ctx) {
      const at = ctx.timestamp;
      if (at === undefined) throw new Error('orders-with-customers: an order reached the rate conversion without event time');
      ctx.state.pending.update([...(ctx.state.pending.value() ?? []), { at, joined }]);
      ctx.timers.registerEventTimeTimer(at);
    },
    processBroadcastElement(update, ctx) {
      const versions = withVersion(ctx.broadcast.rates.get(update.currency) ?? [], { ts: update.ts, eurPerUnit: update.eurPerUnit });
      ctx.broadcast.rates.put(update.currency, withoutOld(versions, ctx.currentWatermark() - timeoutMs));
    },
    onTimer(now, ctx) {
      const waiting: Array<{ readonly at: number; readonly joined: OrderWithProfile }> = [];
      for (const entry of ctx.state.pending.value() ?? []) {
        if (entry.at > now) {
          waiting.push(entry);
          continue;
        }
        const { order } = entry.joined;
        const rate = order.currency === 'EUR' ? null : latestAtOrBefore(ctx.broadcast.rates.get(order.currency) ?? [], order.ts);
        if (rate === undefined) ctx.output('unmatched', { order, reason: 'no-rate' });
        else ctx.emit({ ...entry.joined, rate, amountEurCents: Math.round(order.amount * (rate?.eurPerUnit ?? 1) * 100) });
      }
      if (waiting.length === 0) ctx.state.pending.clear();
      else ctx.state.pending.update(waiting);
    },
  };
}

/**
 * `versions` (sorted by `ts`) with `version` in its place. A version with the same `ts` is replaced: with the topic
 * keyed by customer (or currency), the later in the log wins.
 */
export function withVersion<V extends { readonly ts: number }>(versions: readonly V[], version: V): V[] {
  const out = versions.filter((v) => v.ts !== version.ts);
  const at = out.findIndex((v) => v.ts > version.ts);
  out.splice(at < 0 ? out.length : at, 0, version);
  return out;
}

/** Drops the versions older than the newest one at or before `cutoff`: that one still holds at `cutoff`. */
export function withoutOld<V extends { readonly ts: number }>(versions: V[], cutoff: number): V[] {
  let keepFrom = 0;
  while (keepFrom + 1 < versions.length && (versions[keepFrom + 1] as V).ts <= cutoff) keepFrom++;
  return keepFrom === 0 ? versions : versions.slice(keepFrom);
}

/** The version in force at `ts`: the latest with `ts ≤` it. */
export function latestAtOrBefore<V extends { readonly ts: number }>(versions: readonly V[], ts: number): V | undefined {
  let found: V | undefined;
  for (const v of versions) {
    if (v.ts > ts) break;
    found = v;
  }
  return found;
}

function earliestAfter<V extends { readonly ts: number }>(versions: readonly V[], ts: number): V | undefined {
  return versions.find((v) => v.ts > ts);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Remote channels over a real MessageChannel in one thread: the consumer sees what the producer pushed, in order;
 * credits bound the bytes in flight to the capacity; failures cross as the same error; an InputGate consumes
 * remote channels with barrier alignment as it does in-process channels.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSluiceError, SluiceError } from '../../../runtime/errors/index.ts';
import { type Channel, type ChannelEvent } from '../../../runtime/exec/channel.ts';
import { InputGate } from '../../../runtime/exec/index.ts';
import { ExchangeErrorCodes, type ChannelReader, type RemoteChannelReceiver, type RemoteChannelSender } from '../../../runtime/exchange/index.ts';
import { waitFor } from '../../support/wait-for.ts';
import { endpointPair, whenOpen } from './pair.ts';

interface Row {
  seq: number;
  pad: string;
}

const rows = (from: number, n: number): Row[] => Array.from({ length: n }, (_, i) => ({ seq: from + i, pad: 'x'.repeat(40) }));

/** Everything the receiver holds now, shifted out. */
function drain<T>(receiver: ChannelReader<T>): ChannelEvent<T>[] {
  const out: ChannelEvent<T>[] = [];
  for (let e = receiver.shift(); e !== undefined; e = receiver.shift()) out.push(e);
  return out;
}

// The gate takes Channels today; the receiver must have everything of Channel the gate uses.
const asGateInput = <T>(receivers: RemoteChannelReceiver<T>[]) => receivers as unknown as Channel<T>[];
type GateNeeds = Pick<Channel<unknown>, 'shift' | 'onPush'>;
const _receiverFitsGate: (r: RemoteChannelReceiver<unknown>) => GateNeeds = (r) => r;
void _receiverFitsGate;

test('events arrive in push order: batches, barriers and the end, with their byte counts', async (t) => {
  const { left, right } = endpointPair(t);
  const out = left.openSender<Row>(4);
  const input = right.openReceiver<Row>(4, 1_000_000);
  await whenOpen(out); // until then the first batch would wait
  const pushed: ChannelEvent<Row>[] = [];
  for (let b = 0; b < 20; b++) {
    const records = rows(b * 10, 10);
    assert.equal(out.pushRecords(records, 700 + b), undefined);
    pushed.push({ kind: 'records', records, bytes: 700 + b });
    if (b % 5 === 4) {
      out.pushBarrier(b);
      pushed.push({ kind: 'barrier', checkpointId: b });
    }
  }
  out.pushEnd();
  pushed.push({ kind: 'end' });
  const seen: ChannelEvent<Row>[] = [];
  await waitFor(() => {
    seen.push(...drain(input));
    return seen.at(-1)?.kind === 'end';
  }, { message: 'the end' });
  assert.deepEqual(seen, pushed);
});

test('many channels in both directions over one transport keep their own order; frames before open are kept', async (t) => {
  const { left, right } = endpointPair(t);
  const outs = [0, 1, 2].map((id) => left.openSender<Row>(id));
  const backs = [0, 1, 2].map((id) => right.openSender<Row>(id));
  // Right's receivers open late: this barrier (it needs no credit) arrives before them and must wait for them.
  for (const out of outs) out.pushBarrier(1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const inputs = new Map<string, RemoteChannelReceiver<Row>>();
  for (const id of [0, 1, 2]) {
    inputs.set(`right ${id}`, right.openReceiver<Row>(id, 10_000));
    inputs.set(`left ${id}`, left.openReceiver<Row>(id, 10_000));
  }
  const seen = new Map<string, { seqs: number[]; barriers: number[]; ended: boolean }>();
  const take = (): void => {
    for (const [name, input] of inputs) {
      let s = seen.get(name);
      if (s === undefined) seen.set(name, (s = { seqs: [], barriers: [], ended: false }));
      for (const e of drain(input)) {
        if (e.kind === 'records') s.seqs.push(...e.records.map((r) => r.seq));
        else if (e.kind === 'barrier') s.barriers.push(s.seqs.length);
        else s.ended = true;
      }
    }
  };
  for (let round = 0; round < 30; round++) {
    // Each channel's push is awaited before its next (single producer); consuming as we go keeps credit flowing.
    const pending = [...outs, ...backs].map((out, i) => out.pushRecords(rows(round * 5, 5), 500 + i));
    await waitFor(async () => {
      take();
      return (await Promise.race([Promise.all(pending).then(() => true), new Promise((r) => setImmediate(r, false))])) as boolean;
    }, { intervalMs: 0, message: `round ${round}` });
  }
  for (const out of [...outs, ...backs]) out.pushEnd();
  await waitFor(() => {
    take();
    return [...seen.values()].every((s) => s.ended);
  }, { message: 'every end' });
  for (const [name, s] of seen) {
    assert.deepEqual(s.seqs, Array.from({ length: 150 }, (_, i) => i), name);
    assert.deepEqual(s.barriers, name.startsWith('right') ? [0] : [], `${name}: barrier positions`);
  }
});

test('a slow consumer bounds the bytes unacknowledged by the sender to the capacity; barriers still pass', async (t) => {
  const { left, right } = endpointPair(t);
  const capacity = 10_000;
  const out = left.openSender<Row>(1);
  const input = right.openReceiver<Row>(1, capacity);
  await whenOpen(out);
  let produced = 0;
  const producer = (async () => {
    for (let b = 0; b < 200; b++) {
      const wait = out.pushRecords(rows(b * 10, 10), 1_500);
      if (wait !== undefined) await wait;
      assert.ok(out.unacknowledgedBytes <= capacity, `${out.unacknowledgedBytes} bytes unacknowledged`);
      produced++;
      if (b % 50 === 49) out.pushBarrier(b);
    }
    out.pushEnd();
  })();
  // The consumer takes nothing for a while: the producer must stop at the capacity, not run ahead.
  await waitFor(() => out.waiting, { message: 'the producer to wait for credit' });
  assert.equal(produced, Math.floor(capacity / 1_500));
  assert.equal(out.unacknowledgedBytes, produced * 1_500);
  assert.ok(input.queuedBytes <= capacity);
  // Now consume one event per turn.
  const kinds: string[] = [];
  await waitFor(() => {
    const e = input.shift();
    if (e !== undefined) kinds.push(e.kind);
    return kinds.at(-1) === 'end';
  }, { intervalMs: 0, timeoutMs: 20_000, message: 'the end' });
  await producer;
  assert.equal(kinds.filter((k) => k === 'records').length, 200);
  assert.equal(kinds.filter((k) => k === 'barrier').length, 4);
  assert.ok(out.maxUnacknowledgedBytes <= capacity, `max ${out.maxUnacknowledgedBytes}`);
  assert.ok(input.maxQueuedBytes <= capacity, `max queued ${input.maxQueuedBytes}`);
});

test('a batch larger than the capacity passes alone, once nothing else is unacknowledged', async (t) => {
  const { left, right } = endpointPair(t);
  const out = left.openSender<Row>(2);
  const input = right.openReceiver<Row>(2, 1_000);
  await whenOpen(out);
  assert.equal(out.pushRecords(rows(0, 1), 400), undefined);
  const big = out.pushRecords(rows(1, 100), 5_000);
  assert.ok(big !== undefined, 'the big batch waits while 400 bytes are unacknowledged');
  out.pushBarrier(9); // queued behind the waiting batch, not ahead of it
  await waitFor(() => input.length === 1, { message: 'the small batch' });
  assert.deepEqual(drain(input).map((e) => e.kind), ['records']);
  await big;
  assert.equal(out.unacknowledgedBytes, 5_000);
  await waitFor(() => input.length === 2, { message: 'the big batch and the barrier' });
  const events = drain(input);
  assert.deepEqual(events.map((e) => e.kind), ['records', 'barrier']);
  assert.equal(events[0]?.kind === 'records' && events[0].records.length, 100);
  await waitFor(() => out.unacknowledgedBytes === 0, { message: 'the credit back' });
});

test('a sender closed with an error makes the receiver throw that error, with its code', async (t) => {
  const { left, right } = endpointPair(t);
  const out = left.openSender<Row>(3);
  const input = right.openReceiver<Row>(3, 10_000);
  let woken = 0;
  input.onPush = () => woken++;
  await whenOpen(out);
  out.pushRecords(rows(0, 3), 300);
  out.close(new SluiceError('SLUICE_TEST_UPSTREAM', 'operator "enrich" failed', { retriable: true }));
  await waitFor(() => woken >= 2, { message: 'the failure to wake the consumer' });
  assert.throws(() => input.shift(), (err) => isSluiceError(err, 'SLUICE_TEST_UPSTREAM') && err.message === 'operator "enrich" failed' && err.retriable === true);
  assert.throws(() => out.pushRecords(rows(3, 1), 100), (err) => isSluiceError(err, 'SLUICE_TEST_UPSTREAM'));
});

test('a receiver closed with an error fails the sender\'s waiting push with that error', async (t) => {
  const { left, right } = endpointPair(t);
  const out = left.openSender<Row>(5);
  const input = right.openReceiver<Row>(5, 100);
  await whenOpen(out);
  out.pushRecords(rows(0, 1), 100);
  const waiting = out.pushRecords(rows(1, 1), 100);
  assert.ok(waiting !== undefined);
  input.close(new SluiceError('SLUICE_CANCELLED', 'attempt 3 cancelled'));
  await assert.rejects(waiting, (err) => isSluiceError(err, 'SLUICE_CANCELLED') && err.message === 'attempt 3 cancelled');
});

test('closing the transport fails every unfinished channel on both sides; finished ones keep their events', async (t) => {
  const { left, right } = endpointPair(t);
  const done = left.openSender<Row>(0);
  const busy = left.openSender<Row>(1);
  const doneIn = right.openReceiver<Row>(0, 100);
  const busyIn = right.openReceiver<Row>(1, 100);
  await whenOpen(done, busy);
  done.pushRecords(rows(0, 1), 10);
  done.pushEnd();
  busy.pushRecords(rows(0, 1), 100);
  const waiting = busy.pushRecords(rows(1, 1), 100);
  assert.ok(waiting !== undefined);
  await waitFor(() => doneIn.length === 2, { message: 'the finished channel\'s events' });
  left.close(new SluiceError('SLUICE_TEST_WORKER_FAILED', 'worker 1 failed'));
  await assert.rejects(waiting, (err) => isSluiceError(err, 'SLUICE_TEST_WORKER_FAILED'));
  await waitFor(() => right.closed, { message: 'the close to reach the right side' });
  assert.throws(() => busyIn.shift(), (err) => isSluiceError(err, 'SLUICE_TEST_WORKER_FAILED'));
  assert.deepEqual(drain(doneIn).map((e) => e.kind), ['records', 'end']);
  assert.throws(() => right.openReceiver(7, 100), (err) => isSluiceError(err, 'SLUICE_TEST_WORKER_FAILED'));
});

test('an unfinished channel fails when the exchange closes cleanly under it', async (t) => {
  const { left, right } = endpointPair(t);
  left.openSender<Row>(0);
  const input = right.openReceiver<Row>(0, 100);
  left.close();
  await waitFor(() => right.closed, { message: 'the close' });
  assert.throws(() => input.shift(), (err) => isSluiceError(err, ExchangeErrorCodes.closed));
});

test('an InputGate aligns barriers across remote channels as it does across in-process ones', async (t) => {
  const { left, right } = endpointPair(t);
  const outs = [0, 1].map((id) => left.openSender<Row>(id));
  const ins = [0, 1].map((id) => right.openReceiver<Row>(id, 100_000));
  const gate = new InputGate(asGateInput(ins));
  await whenOpen(...(outs as RemoteChannelSender<unknown>[]));
  outs[0]?.pushRecords(rows(0, 2), 100);
  outs[0]?.pushBarrier(1);
  outs[0]?.pushRecords(rows(100, 2), 100); // after barrier 1 on channel 0: must wait for channel 1's barrier
  outs[1]?.pushRecords(rows(50, 2), 100);
  await waitFor(() => ins[0]?.length === 3 && ins[1]?.length === 1, { message: 'the first events' });
  const before: number[] = [];
  for (let e = gate.poll(); e !== null; e = gate.poll()) if (e.kind === 'records') before.push(...e.records.map((r) => r.seq));
  assert.deepEqual(before.sort((a, b) => a - b), [0, 1, 50, 51]);
  outs[1]?.pushBarrier(1);
  for (const out of outs) out.pushEnd();
  const after: string[] = [];
  await waitFor(() => {
    for (let e = gate.poll(); e !== null; e = gate.poll()) after.push(e.kind === 'records' ? e.records.map((r) => r.seq).join(',') : e.kind);
    return after.at(-1) === 'end';
  }, { message: 'the end through the gate' });
  assert.deepEqual(after, ['barrier', '100,101', 'end']);
});

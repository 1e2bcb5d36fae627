/**
 * The exchange between the main thread and a real worker thread: exact, ordered delivery of 1M records over
 * several channels with barriers, bytes in flight bounded by credits under a slow consumer, and failures that reach
 * the other thread as the same error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, type Worker } from 'node:worker_threads';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { ExchangeEndpoint, ExchangeErrorCodes, MessagePortTransport, type RemoteChannelSender } from '../../../runtime/exchange/index.ts';
import type { ConsumeResult, WorkerFailure } from './fixtures/exchange-worker.ts';
import { startTsWorker } from './fixtures/start-ts-worker.ts';
import { waitFor } from '../../support/wait-for.ts';

const WORKER = new URL('./fixtures/exchange-worker.ts', import.meta.url);
const PAD = 'x'.repeat(60);
const row = (ch: number, seq: number) => ({ ch, seq, pad: PAD });

function withWorker(t: test.TestContext, data: Record<string, unknown>): { endpoint: ExchangeEndpoint; worker: Worker } {
  const { port1, port2 } = new MessageChannel();
  const endpoint = new ExchangeEndpoint(new MessagePortTransport(port1));
  t.after(() => endpoint.close());
  const worker = startTsWorker(t, WORKER, { ...data, port: port2 }, [port2]);
  return { endpoint, worker };
}

function next<T>(worker: Worker, kind: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { kind: string }) => {
      if (message.kind !== kind) return;
      worker.off('message', onMessage);
      resolve(message as T);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

/** Pushes `records` records per channel in batches, awaiting credit, with a barrier every `barrierEvery` batches. */
async function produce(outs: RemoteChannelSender<ReturnType<typeof row>>[], records: number, batch: number, barrierEvery: number, afterPush = () => {}) {
  let batches = 0;
  for (let seq = 0; seq < records; seq += batch) {
    for (const out of outs) {
      const rows = Array.from({ length: Math.min(batch, records - seq) }, (_, i) => row(out.channel, seq + i));
      const wait = out.pushRecords(rows, rows.length * 80);
      if (wait !== undefined) await wait;
      afterPush();
    }
    if (++batches % barrierEvery === 0) for (const out of outs) out.pushBarrier(batches / barrierEvery);
  }
  for (const out of outs) out.pushEnd();
}

test('1M records over 4 channels to a worker arrive exactly once, in order, with barriers in place', async (t) => {
  const channels = [0, 1, 2, 3];
  const { endpoint, worker } = withWorker(t, { mode: 'consume', channels, capacity: 64 * 1024 });
  const done = next<ConsumeResult>(worker, 'result');
  const outs = channels.map((id) => endpoint.openSender<ReturnType<typeof row>>(id));
  await produce(outs, 250_000, 500, 100);
  const result = await done;
  for (const id of channels) {
    const stats = result.channels[id];
    assert.ok(stats !== undefined);
    assert.equal(stats.records, 250_000, `channel ${id}`);
    assert.equal(stats.outOfOrder, 0, `channel ${id}`);
    assert.ok(stats.ended);
    // A barrier every 100 batches of 500: after 50,000, 100,000, … records.
    assert.deepEqual(stats.barriers, [1, 2, 3, 4, 5].map((n) => [n * 50_000, n]), `channel ${id}`);
    assert.ok(stats.maxQueuedBytes <= 64 * 1024);
  }
  for (const out of outs) assert.ok(out.maxUnacknowledgedBytes <= 64 * 1024, `${out.maxUnacknowledgedBytes}`);
});

test('a slow consumer in the worker bounds the bytes the main thread has unacknowledged to the capacity', async (t) => {
  const capacity = 20_000;
  const { endpoint, worker } = withWorker(t, { mode: 'consume', channels: [7], capacity, slowMs: 1 });
  const done = next<ConsumeResult>(worker, 'result');
  const out = endpoint.openSender<ReturnType<typeof row>>(7);
  let waits = 0;
  const observed: number[] = [];
  const original = out.pushRecords.bind(out);
  out.pushRecords = (records, bytes) => {
    const wait = original(records, bytes);
    if (wait !== undefined) waits++;
    return wait;
  };
  await produce([out], 4_000, 20, 50, () => observed.push(out.unacknowledgedBytes));
  const result = await done;
  assert.equal(result.channels[7]?.records, 4_000);
  assert.equal(result.channels[7]?.outOfOrder, 0);
  assert.ok(Math.max(...observed) <= capacity, `max unacknowledged ${Math.max(...observed)}`);
  assert.ok(out.maxUnacknowledgedBytes <= capacity);
  assert.ok((result.channels[7]?.maxQueuedBytes ?? Infinity) <= capacity);
  // The producer was held back, not merely lucky: it waited for credit for most batches.
  assert.ok(waits > 100, `${waits} waits for credit`);
});

test('a sender closed with an error in the worker fails the main thread\'s receiver with that error', async (t) => {
  const { endpoint, worker } = withWorker(t, { mode: 'fail' });
  const input = endpoint.openReceiver<{ seq: number }>(0, 1_000);
  await next(worker, 'sent');
  let error: unknown;
  await new Promise<void>((resolve) => {
    const poll = (): void => {
      try {
        for (let e = input.shift(); e !== undefined; e = input.shift());
      } catch (err) {
        error = err;
        resolve();
        return;
      }
      setImmediate(poll);
    };
    poll();
  });
  assert.ok(isSluiceError(error, 'SLUICE_TEST_WORKER_OPERATOR'), `got ${String(error)}`);
  assert.equal((error as Error).message, 'operator "parse" (subtask 1/2) failed in the worker');
  assert.equal((error as { retriable?: boolean }).retriable, true);
});

test('a worker that dies under a waiting push fails it as disconnected; a main-thread close reaches the worker as its error', async (t) => {
  const { endpoint, worker } = withWorker(t, { mode: 'consume', channels: [1, 2], capacity: 1_000, slowMs: 10_000 });
  const out = endpoint.openSender<ReturnType<typeof row>>(1);
  const other = endpoint.openSender<ReturnType<typeof row>>(2);
  const failure = next<WorkerFailure>(worker, 'error');
  other.close(new Error('main side gave up on channel 2'));
  assert.deepEqual(await failure, { kind: 'error', code: undefined, message: 'main side gave up on channel 2' });

  await waitFor(() => out.capacity !== undefined, { message: 'the worker to open channel 1' });
  let wait: Promise<void> | undefined;
  let sent = 0;
  for (; wait === undefined; sent++) wait = out.pushRecords([row(1, sent)], 400);
  assert.equal(sent, 3, 'two batches of 400 fit in 1,000 bytes; the third waits');
  const rejected = assert.rejects(wait, (err) => isSluiceError(err, ExchangeErrorCodes.disconnected));
  await worker.terminate();
  await rejected;
});

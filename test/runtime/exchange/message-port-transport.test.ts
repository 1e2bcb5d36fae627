/**
 * The MessagePort transport: frames arrive whole and in order, a close with an error reaches the peer as that
 * error, a clean close is clean, and a peer that vanishes is reported as disconnected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, Worker } from 'node:worker_threads';
import { isSluiceError, SluiceError } from '../../../runtime/errors/index.ts';
import { ExchangeErrorCodes, MessagePortTransport } from '../../../runtime/exchange/index.ts';
import { waitFor } from '../../support/wait-for.ts';

function transportPair(chunkBytes?: number) {
  const { port1, port2 } = new MessageChannel();
  const options = chunkBytes === undefined ? {} : { chunkBytes };
  const a = new MessagePortTransport(port1, options);
  const b = new MessagePortTransport(port2, options);
  const received: Uint8Array[] = [];
  const closes: Array<Error | undefined> = [];
  b.onFrame = (frame) => received.push(frame);
  b.onClose = (error) => closes.push(error);
  return { a, b, received, closes };
}

test('frames of every size arrive whole, in order, across chunk boundaries', async (t) => {
  const { a, b, received } = transportPair(256);
  t.after(() => a.close());
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 500; i++) {
    // Sizes from empty to several chunks; the sender reuses one buffer, which the transport must have copied.
    const frame = Uint8Array.from({ length: (i * 37) % 1_000 }, (_, j) => (i + j) & 0xff);
    sent.push(frame.slice());
    a.send(frame);
    frame.fill(0);
  }
  await waitFor(() => received.length === sent.length, { message: 'all frames' });
  assert.deepEqual(received.map((f) => Buffer.from(f).toString('hex')), sent.map((f) => Buffer.from(f).toString('hex')));
  assert.equal(b.closed, false);
});

test('close with an error delivers the frames sent before it, then the error with its code', async () => {
  const { a, received, closes } = transportPair();
  a.send(new Uint8Array([1]));
  a.send(new Uint8Array([2]));
  a.close(new SluiceError('SLUICE_TEST_BOOM', 'subtask 2 of "orders" failed', { retriable: false }));
  await waitFor(() => closes.length === 1, { message: 'the close' });
  assert.deepEqual(received.map((f) => f[0]), [1, 2]);
  const error = closes[0];
  assert.ok(isSluiceError(error, 'SLUICE_TEST_BOOM'), `got ${String(error)}`);
  assert.equal(error.message, 'subtask 2 of "orders" failed');
  assert.equal(error.retriable, false);
  assert.throws(() => a.send(new Uint8Array([3])), (err) => isSluiceError(err, ExchangeErrorCodes.closed));
});

test('a clean close is reported without an error on both sides', async () => {
  const { a, closes } = transportPair();
  const local: Array<Error | undefined> = [];
  a.onClose = (error) => local.push(error);
  a.close();
  await waitFor(() => closes.length === 1, { message: 'the close' });
  assert.deepEqual(closes, [undefined]);
  assert.deepEqual(local, [undefined]);
});

test('a peer whose worker is terminated is reported as disconnected', async (t) => {
  const { port1, port2 } = new MessageChannel();
  const transport = new MessagePortTransport(port1);
  const closes: Array<Error | undefined> = [];
  transport.onClose = (error) => closes.push(error);
  const worker = new Worker(`require('node:worker_threads').workerData.port.on('message', () => {}); require('node:worker_threads').parentPort.postMessage('ready');`, {
    eval: true,
    workerData: { port: port2 },
    transferList: [port2],
  });
  t.after(() => worker.terminate());
  await new Promise((resolve) => worker.once('message', resolve));
  await worker.terminate();
  await waitFor(() => closes.length === 1, { message: 'the disconnect' });
  assert.ok(isSluiceError(closes[0], ExchangeErrorCodes.disconnected), `got ${String(closes[0])}`);
});

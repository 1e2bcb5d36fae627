import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FetchedPartition } from '../../../../connectors/kafka/source/fetch/fetch-response.ts';
import { waitFor } from '../../../support/wait-for.ts';
import {
  asked,
  connectionFailures,
  FakeKafka,
  fetches,
  fetchesDuring,
  gate,
  okReply,
  roomGates,
  singleLeader,
  SPLITS,
  startFetcher,
} from './support/split-fetcher-harness.ts';

/**
 * SplitFetcher against a fake kafkajs cluster: fake brokers build each Fetch with kafkajs's real v11 request builder
 * (through the fetcher's own request definition) and answer through a method keyed like kafkajs's private
 * `sendRequest`, so `fetchFromBroker` runs unchanged. Each fetch the fetcher sends is recorded with its arguments.
 */

// ---- 1. what is fetched -----------------------------------------------------------------------------------------------

test('every fetch starts each partition at what nextOffset says at that moment', async (t) => {
  const kafka = singleLeader();
  const h = startFetcher(t, kafka, {
    // Like the reader: the position moves to the end of what was handed over.
    onPartition: async (fetched) => void h.offsets.set(`${fetched.topic}-${fetched.partition}`, fetched.highWatermark),
  });
  h.offsets.set('orders-0', 5);
  h.offsets.set('orders-1', 7);
  const sent = await fetches(h, 3);
  assert.deepEqual(
    sent.slice(0, 3).map((f) => [...f.partitions].sort((a, b) => a.partition - b.partition).map((p) => p.fetchOffset)),
    [
      [5, 7],
      [15, 17],
      [25, 27],
    ],
  );
});

test('each fetch lists its partitions starting one further: a backlog in the first ones cannot take every fetch', async (t) => {
  // The broker fills a fetch in the order of its list, and only the first partition with data may pass its limits
  // (KIP-74): always listed first, a partition with a backlog would starve the others until it reached its end.
  const kafka = new FakeKafka({ 'orders-0': '1', 'orders-1': '1', 'payments-0': '1' });
  const h = startFetcher(t, kafka, { splits: [...SPLITS, { topic: 'payments', partition: 0 }] });
  const sent = await fetches(h, 4);
  // The request groups partitions by topic (Kafka's wire format), so what rotates is which partition comes first.
  assert.deepEqual(
    sent.slice(0, 4).map((f) => asked(f)[0]),
    ['orders-0', 'orders-1', 'payments-0', 'orders-0'],
  );
  for (const fetch of sent.slice(0, 4)) assert.deepEqual([...asked(fetch)].sort(), ['orders-0', 'orders-1', 'payments-0']);
});

test('paused partitions are left out of fetches, and a loop with all its partitions paused waits until one resumes', async (t) => {
  const kafka = singleLeader();
  const paused = new Set<string>(['orders-1']);
  let changed = gate();
  const h = startFetcher(t, kafka, {
    isPaused: (topic, partition) => paused.has(`${topic}-${partition}`),
    pausesChanged: () => changed.promise,
  });
  const [first] = await fetches(h, 1);
  assert.deepEqual(asked(first!), ['orders-0']);
  paused.add('orders-0');
  const before = kafka.sent.length;
  await sleep(50);
  assert.ok(kafka.sent.length <= before + 1, 'at most the fetch in flight when all were paused');
  const waiting = kafka.sent.length;
  paused.clear();
  const wake = changed;
  changed = gate();
  wake.open(undefined);
  const resumed = await fetches(h, waiting + 1);
  assert.deepEqual([...asked(resumed[waiting]!)].sort(), ['orders-0', 'orders-1']);
});

test('the request carries the options: isolation level, wait, sizes; every owned partition is asked for from its leader', async (t) => {
  for (const readCommitted of [true, false]) {
    const kafka = singleLeader('7');
    const h = startFetcher(t, kafka, { readCommitted, maxWaitMs: 123, minBytes: 2, maxBytes: 4_567, maxBytesPerPartition: 890 });
    const [first] = await fetches(h, 1);
    await h.fetcher.stop();
    assert.deepEqual(first, {
      nodeId: '7',
      isolationLevel: readCommitted ? 1 : 0,
      maxWaitTime: 123,
      minBytes: 2,
      maxBytes: 4_567,
      partitions: [
        { topic: 'orders', partition: 0, fetchOffset: 0, maxBytes: 890 },
        { topic: 'orders', partition: 1, fetchOffset: 0, maxBytes: 890 },
      ],
      apiVersion: 11,
    });
    assert.deepEqual(kafka.calls.findBroker, ['7']);
  }
});

test('two leaders: one fetch loop per broker, concurrent, each asking only for its own partitions', async (t) => {
  const kafka = new FakeKafka({ 'orders-0': '1', 'orders-1': '2', 'payments-0': '1' });
  const node1 = gate();
  kafka.reply = async (fetch) => {
    if (fetch.nodeId === '1') await node1.promise;
    return okReply(fetch);
  };
  const h = startFetcher(t, kafka, { splits: [...SPLITS, { topic: 'payments', partition: 0 }] });
  // Node 1's first fetch hangs; node 2 keeps fetching meanwhile.
  await fetches(h, 3, '2');
  assert.equal(kafka.sentTo('1').length, 1);
  node1.open();
  await fetches(h, 3, '1');
  assert.deepEqual([...new Set(kafka.calls.findBroker)].sort(), ['1', '2']);
  for (const fetch of kafka.sentTo('1')) assert.deepEqual([...asked(fetch)].sort(), ['orders-0', 'payments-0']);
  for (const fetch of kafka.sentTo('2')) assert.deepEqual(asked(fetch), ['orders-1']);
});

// ---- 2. handing over and backpressure ---------------------------------------------------------------------------------

test('onPartition gets every partition of a response, and the leader\'s next fetch waits until it resolves', async (t) => {
  const kafka = singleLeader();
  const handling = gate();
  const handed: FetchedPartition[] = [];
  const h = startFetcher(t, kafka, {
    onPartition: async (fetched) => {
      handed.push(fetched);
      if (handed.length === 1) await handling.promise;
    },
  });
  const [first] = await fetches(h, 1);
  await waitFor(() => handed.length === 1, { timeoutMs: 2_000, message: 'the first partition handed over' });
  assert.equal(await fetchesDuring(h, 40), 0, 'no fetch while onPartition is pending');
  assert.equal(handed.length, 1, 'the partitions of a response are handed over one after the other');
  handling.open();
  await fetches(h, 2);
  assert.ok(first !== undefined);
  assert.deepEqual(handed.slice(0, 2), okReply(first).partitions);
});

test('awaitRoom is awaited before every fetch; false stops the loop', async (t) => {
  const kafka = singleLeader();
  const { awaitRoom, asks: rooms } = roomGates(t);
  const h = startFetcher(t, kafka, { awaitRoom });
  await waitFor(() => rooms.length === 1, { timeoutMs: 2_000, message: 'awaitRoom asked' });
  assert.equal(await fetchesDuring(h, 30), 0, 'no fetch before there is room');
  rooms[0]?.open(true);
  await fetches(h, 1);
  await waitFor(() => rooms.length === 2, { timeoutMs: 2_000, message: 'awaitRoom asked again' });
  assert.equal(await fetchesDuring(h, 30), 0, 'the second fetch waits for room too');
  rooms[1]?.open(false);
  assert.equal(await fetchesDuring(h, 50), 0, 'no fetch after awaitRoom said false');
  assert.deepEqual(h.failures, []);
});

test('once every loop\'s awaitRoom said false (fetcher obsolete), the fetcher does not start its loops again on its own', async (t) => {
  const kafka = singleLeader();
  let asks = 0;
  const h = startFetcher(t, kafka, {
    awaitRoom: async () => {
      asks++;
      return false;
    },
  });
  await waitFor(() => asks >= 1, { timeoutMs: 2_000, message: 'awaitRoom asked' });
  await sleep(50);
  assert.equal(h.kafka.sent.length, 0);
  assert.equal(asks, 1, `awaitRoom asked ${asks} times in 50 ms after it said false`);
  assert.equal(kafka.calls.addMultipleTargetTopics, 1, `leaders planned ${kafka.calls.addMultipleTargetTopics} times`);
});

// ---- 9. stop ----------------------------------------------------------------------------------------------------------

test('stop() resolves once the fetch in flight returned; no fetch starts after it, and it is no failure', async (t) => {
  const kafka = singleLeader();
  const inFlight = gate();
  kafka.reply = async (fetch) => {
    await inFlight.promise;
    return okReply(fetch);
  };
  const h = startFetcher(t, kafka);
  await fetches(h, 1);
  let stopped = false;
  const stopping = h.fetcher.stop().then(() => (stopped = true));
  await sleep(30);
  assert.equal(stopped, false, 'stop() waits for the fetch in flight');
  inFlight.open();
  await stopping;
  assert.equal(await fetchesDuring(h, 50), 0);
  assert.equal(kafka.sent.length, 1);
  assert.deepEqual(h.failures, []);
  assert.equal(kafka.calls.disconnect, 0, 'the cluster is left connected');
});

test('stop() during a retry backoff resolves at once, without onFailure', async (t) => {
  const kafka = singleLeader();
  kafka.reply = connectionFailures();
  const h = startFetcher(t, kafka, { retry: { retries: 5, initialRetryTimeMs: 60_000, maxRetryTimeMs: 60_000 } });
  await fetches(h, 1);
  await waitFor(() => h.warnings().length === 1, { timeoutMs: 2_000, message: 'the retry warning' });
  const started = Date.now();
  await h.fetcher.stop();
  // Half the 60 s backoff: far from it even on a loaded machine.
  assert.ok(Date.now() - started < 30_000, `stop() did not wait for the 60 s backoff (${Date.now() - started} ms)`);
  assert.deepEqual(h.failures, []);
  assert.equal(kafka.sent.length, 1);
});

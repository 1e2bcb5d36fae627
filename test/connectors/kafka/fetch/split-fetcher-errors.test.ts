// SplitFetcher's failures: connection failures, partition and response error codes, partitions missing from the metadata, onPartition failing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../../../support/wait-for.ts';
import {
  asked,
  connectionFailures,
  failure,
  FakeKafka,
  fetches,
  fetchesDuring,
  firstFetches,
  okReply,
  replyWithErrors,
  singleLeader,
  startFetcher,
  type SentFetch,
} from './support/split-fetcher-harness.ts';

// ---- 3. connection failures -------------------------------------------------------------------------------------------

test('connection failures: retried after a metadata refresh, one warning for the outage, one info when fetching again', async (t) => {
  const kafka = singleLeader();
  kafka.reply = firstFetches(3, connectionFailures());
  const h = startFetcher(t, kafka, { retry: { retries: 5, initialRetryTimeMs: 5, maxRetryTimeMs: 20 } });
  await fetches(h, 6);
  assert.deepEqual(h.kafka.events.slice(0, 7), ['fetch:1', 'refresh', 'fetch:1', 'refresh', 'fetch:1', 'refresh', 'fetch:1']);
  assert.equal(kafka.calls.refreshMetadata, 3, 'no refresh once fetches succeed');
  assert.equal(h.warnings().length, 1, JSON.stringify(h.warnings()));
  assert.match(h.warnings()[0]?.msg ?? '', /Connection error #1/);
  assert.equal(h.fetchesAgain().length, 1, JSON.stringify(h.logs));
  assert.equal(h.fetchesAgain()[0]?.attempts, 3);
  assert.deepEqual(h.failures, []);
});

test('connection failures: after the initial attempt and `retries` retries, onFailure once with the last error, then no fetch', async (t) => {
  const kafka = singleLeader();
  const failing = connectionFailures();
  kafka.reply = failing;
  const h = startFetcher(t, kafka, { retry: { retries: 3, initialRetryTimeMs: 5, maxRetryTimeMs: 20 } });
  const error = await failure(h);
  assert.equal(error, failing.last);
  assert.equal((error as Error).message, 'Connection error #4');
  assert.equal(kafka.sent.length, 4);
  assert.equal(await fetchesDuring(h, 50), 0, 'no fetch after onFailure');
  assert.equal(h.failures.length, 1);
  assert.equal(h.warnings().length, 1);
  assert.equal(h.fetchesAgain().length, 0);
});

test('one of two brokers down for good: its retry budget runs out (the other broker fetching fine does not reset it)', async (t) => {
  const kafka = new FakeKafka({ 'orders-0': '1', 'orders-1': '2' });
  const down = connectionFailures();
  kafka.reply = (fetch, k) => (fetch.nodeId === '1' ? down(fetch, k) : okReply(fetch));
  const retries = 2;
  const h = startFetcher(t, kafka, { retry: { retries, initialRetryTimeMs: 5, maxRetryTimeMs: 20 } });
  await waitFor(() => h.failures.length > 0 || kafka.sentTo('1').length >= retries + 6, { timeoutMs: 2_000, message: 'onFailure or more attempts' });
  assert.equal(h.failures.length, 1, `node 1 was tried ${kafka.sentTo('1').length} times with retries: ${retries}; ${h.failures.length} onFailure call(s), ${h.warnings().length} warning(s), ${h.fetchesAgain().length} "fetches again" line(s)`);
  assert.equal(h.failures[0], down.last);
  assert.equal(kafka.sentTo('1').length, retries + 1);
  assert.equal(h.warnings().length, 1, `${h.warnings().length} warnings for one outage`);
});

// ---- 4–7. partition and response error codes --------------------------------------------------------------------------

for (const [code, name] of [
  [6, 'NOT_LEADER_FOR_PARTITION'],
  [3, 'UNKNOWN_TOPIC_OR_PARTITION'],
] as const) {
  test(`partition error ${code} ${name}: metadata refreshed, leaders planned again; the other partitions are still handed over`, async (t) => {
    const kafka = singleLeader();
    kafka.reply = firstFetches(1, replyWithErrors({ 'orders-0': code }));
    // The refresh shows the partition moved to node 2.
    kafka.onRefresh = (k) => k.leaders.set('orders-0', '2');
    const h = startFetcher(t, kafka);
    await fetches(h, 1, '2');
    await fetches(h, 3, '1');
    assert.equal(kafka.calls.refreshMetadata, 1);
    assert.deepEqual(asked(kafka.sent[0] as SentFetch), ['orders-0', 'orders-1']);
    for (const fetch of kafka.sentTo('1').slice(1)) assert.deepEqual(asked(fetch), ['orders-1']);
    for (const fetch of kafka.sentTo('2')) assert.deepEqual(asked(fetch), ['orders-0']);
    // orders-1 of the failed response was handed over; orders-0 not.
    assert.deepEqual(h.handed[0], okReply(kafka.sent[0] as SentFetch).partitions[1]);
    assert.ok(!h.handed.some((p) => p.errorCode !== 0));
    assert.deepEqual(h.failures, []);
  });
}

test('partition error 3 UNKNOWN_TOPIC_OR_PARTITION tells onUnknownPartition (the reader checks for a deleted topic at once); 6 does not', async (t) => {
  const kafka = singleLeader();
  kafka.reply = firstFetches(1, replyWithErrors({ 'orders-0': 3, 'orders-1': 6 }));
  const unknown: string[] = [];
  const h = startFetcher(t, kafka, { onUnknownPartition: (topic, partition) => void unknown.push(`${topic}-${partition}`) });
  await fetches(h, 3);
  assert.deepEqual(unknown, ['orders-0']);
  assert.deepEqual(h.failures, []);
});

test('partition error 1 OFFSET_OUT_OF_RANGE: onOffsetOutOfRange, then fetching goes on from the new position (no refresh, no failure)', async (t) => {
  const kafka = singleLeader();
  kafka.reply = firstFetches(1, replyWithErrors({ 'orders-0': 1 }));
  const h = startFetcher(t, kafka, {
    onOffsetOutOfRange: async (topic, partition) => {
      h.outOfRange.push(`${topic}-${partition}`);
      h.offsets.set(`${topic}-${partition}`, 100);
    },
  });
  h.offsets.set('orders-0', 40);
  const sent = await fetches(h, 3);
  assert.deepEqual(h.outOfRange, ['orders-0']);
  const offsetOfPartition0 = (fetch: (typeof sent)[number] | undefined) => fetch?.partitions.find((p) => p.partition === 0)?.fetchOffset;
  assert.equal(offsetOfPartition0(sent[0]), 40);
  assert.equal(offsetOfPartition0(sent[1]), 100);
  assert.equal(h.handed[0]?.partition, 1, 'the other partition of the response is handed over');
  assert.equal(kafka.calls.refreshMetadata, 0);
  assert.deepEqual(h.failures, []);
});

test('a partition error retrying cannot fix (29 TOPIC_AUTHORIZATION_FAILED): onFailure at once, no retry', async (t) => {
  const kafka = singleLeader();
  kafka.reply = replyWithErrors({ 'orders-1': 29 });
  const h = startFetcher(t, kafka);
  const error = await failure(h);
  assert.equal((error as { type?: unknown }).type, 'TOPIC_AUTHORIZATION_FAILED');
  assert.equal(await fetchesDuring(h, 50), 0);
  assert.equal(kafka.sent.length, 1);
  assert.equal(kafka.calls.refreshMetadata, 0);
  assert.equal(h.failures.length, 1);
});

test('a whole-response error (70 FETCH_SESSION_ID_NOT_FOUND) is retried like kafkajs\'s retriable error', async (t) => {
  const kafka = singleLeader();
  kafka.reply = firstFetches(2, () => ({ errorCode: 70, partitions: [] }));
  const h = startFetcher(t, kafka);
  await fetches(h, 4);
  assert.equal(kafka.calls.refreshMetadata, 2);
  assert.equal(h.warnings().length, 1);
  assert.match(h.warnings()[0]?.msg ?? '', /fetch session/i);
  assert.equal(h.fetchesAgain()[0]?.attempts, 2);
  assert.deepEqual(h.failures, []);
});

test('a whole-response error retrying cannot fix (29): onFailure with kafkajs\'s error', async (t) => {
  const kafka = singleLeader();
  kafka.reply = () => ({ errorCode: 29, partitions: [] });
  const h = startFetcher(t, kafka);
  const error = await failure(h);
  assert.equal((error as { type?: unknown }).type, 'TOPIC_AUTHORIZATION_FAILED');
  assert.equal(kafka.sent.length, 1);
});

// ---- 8. partitions missing from the metadata --------------------------------------------------------------------------

test('a partition missing from the metadata is retried after refreshes until it has a leader, then fetched', async (t) => {
  const kafka = new FakeKafka({ 'orders-0': '1' });
  kafka.onRefresh = (k) => {
    if (k.calls.refreshMetadata === 2) k.leaders.set('orders-1', '1');
  };
  const h = startFetcher(t, kafka);
  const [first] = await fetches(h, 1);
  assert.deepEqual(asked(first as SentFetch), ['orders-0', 'orders-1']);
  assert.equal(kafka.calls.refreshMetadata, 2);
  assert.equal(h.warnings().length, 1);
  assert.match(h.warnings()[0]?.msg ?? '', /no leader known yet/);
  assert.deepEqual(h.failures, []);
});

test('a partition the metadata never shows: onFailure after the retries, not silently left unfetched', async (t) => {
  const kafka = new FakeKafka({ 'orders-0': '1' });
  const h = startFetcher(t, kafka, { retry: { retries: 2, initialRetryTimeMs: 5, maxRetryTimeMs: 20 } });
  const error = await failure(h);
  assert.match((error as Error).message, /no leader known yet for some partitions of "orders"/);
  assert.equal(kafka.calls.refreshMetadata, 2);
  assert.equal(kafka.sent.length, 0);
});

test('a leader of -1 (none elected) counts as missing and is retried', async (t) => {
  const kafka = new FakeKafka({ 'orders-0': '1', 'orders-1': '-1' });
  kafka.onRefresh = (k) => k.leaders.set('orders-1', '2');
  const h = startFetcher(t, kafka);
  await fetches(h, 1, '2');
  assert.deepEqual(asked(kafka.sentTo('2')[0] as SentFetch), ['orders-1']);
  assert.ok(!kafka.calls.findBroker.includes('-1'));
});

// ---- 10. onPartition failing ------------------------------------------------------------------------------------------

test('an onPartition that rejects: onFailure with that error, not retried', async (t) => {
  const kafka = singleLeader();
  const boom = new Error('the buffer broke');
  const h = startFetcher(t, kafka, {
    onPartition: async () => {
      throw boom;
    },
  });
  const error = await failure(h);
  assert.equal(error, boom);
  assert.equal(await fetchesDuring(h, 50), 0);
  assert.equal(kafka.sent.length, 1);
  assert.equal(kafka.calls.refreshMetadata, 0);
  assert.equal(h.failures.length, 1);
});

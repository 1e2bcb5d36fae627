import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { FetchedPartition, FetchResponse } from '../../../../connectors/kafka/source/fetch/fetch-response.ts';
import type { InternalBroker, InternalCluster } from '../../../../connectors/kafka/source/fetch/kafkajs-fetch.ts';
import { SplitFetcher, type FetchedSplit, type SplitFetcherOptions } from '../../../../connectors/kafka/source/fetch/split-fetcher.ts';
import { waitFor } from '../../../support/wait-for.ts';

/**
 * SplitFetcher against a fake kafkajs cluster: fake brokers build each Fetch with kafkajs's real v11 request builder
 * (through the fetcher's own request definition) and answer through a method keyed like kafkajs's private
 * `sendRequest`, so `fetchFromBroker` runs unchanged. Each fetch the fetcher sends is recorded with its arguments.
 */

// ---- fake kafkajs cluster ---------------------------------------------------------------------------------------------

type RequestDefinition = Parameters<InternalBroker['lookupRequest']>[1];
type BuildRequest = ReturnType<InternalBroker['lookupRequest']>;
type FetchArgs = Parameters<BuildRequest>[0];

/** One Fetch as sent: which broker, and the arguments kafkajs's request builder got. */
interface SentFetch {
  readonly nodeId: string;
  readonly isolationLevel: number;
  readonly maxWaitTime: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly partitions: readonly { readonly topic: string; readonly partition: number; readonly fetchOffset: number; readonly maxBytes: number }[];
  /** The kafkajs Fetch version the request was built for. */
  readonly apiVersion: number;
}

/** Answers a fetch: a response, or throws (a connection failure, say). */
type Reply = (fetch: SentFetch, kafka: FakeKafka) => FetchResponse | Promise<FetchResponse>;

/** A fresh symbol with kafkajs's description, as `fetchFromBroker` looks it up on the prototype chain. */
const SEND_REQUEST = Symbol('private:Broker:sendRequest');

class FakeBroker implements InternalBroker {
  #built: { args: FetchArgs; apiVersion: number } | undefined;

  constructor(
    readonly nodeId: string,
    readonly kafka: FakeKafka,
  ) {}

  lookupRequest(_apiKey: number, definition: RequestDefinition): BuildRequest {
    const build = definition.protocol({ version: 11 });
    return (args) => {
      const request = build(args);
      this.#built = { args, apiVersion: request.request.apiVersion };
      return request;
    };
  }

  async [SEND_REQUEST](_request: unknown): Promise<FetchResponse> {
    const built = this.#built;
    assert.ok(built !== undefined, 'a request is sent after it was built');
    this.#built = undefined;
    const { args, apiVersion } = built;
    const fetch: SentFetch = {
      nodeId: this.nodeId,
      isolationLevel: args.isolationLevel,
      maxWaitTime: args.maxWaitTime,
      minBytes: args.minBytes,
      maxBytes: args.maxBytes,
      partitions: args.topics.flatMap(({ topic, partitions }) =>
        partitions.map((p) => ({ topic, partition: p.partition, fetchOffset: Number(p.fetchOffset), maxBytes: p.maxBytes })),
      ),
      apiVersion,
    };
    this.kafka.sent.push(fetch);
    this.kafka.events.push(`fetch:${this.nodeId}`);
    // A broker waits a little before answering (maxWaitMs): keeps the loops from spinning on the CPU.
    await sleep(1);
    return this.kafka.reply(fetch, this.kafka);
  }
}

/** The cluster the fetcher talks to: leaders per partition, counters, every fetch sent, and how to answer. */
class FakeKafka implements InternalCluster {
  /** `topic-partition` → leader node id; a partition not here is missing from the metadata. */
  readonly leaders = new Map<string, string>();
  readonly sent: SentFetch[] = [];
  /** Fetches and metadata refreshes in the order they happened. */
  readonly events: string[] = [];
  readonly calls = { connect: 0, disconnect: 0, refreshMetadata: 0, addMultipleTargetTopics: 0, findBroker: [] as string[] };
  reply: Reply = okReply;
  /** Runs on each metadata refresh (after the count went up): a leader moves, a partition appears. */
  onRefresh: (kafka: FakeKafka) => void = () => undefined;
  readonly #brokers = new Map<string, FakeBroker>();

  constructor(leaders: Record<string, string>) {
    for (const [key, nodeId] of Object.entries(leaders)) this.leaders.set(key, nodeId);
  }

  async connect(): Promise<void> {
    this.calls.connect++;
  }

  async disconnect(): Promise<void> {
    this.calls.disconnect++;
  }

  async refreshMetadata(): Promise<void> {
    this.calls.refreshMetadata++;
    this.events.push('refresh');
    await nextMacrotask();
    this.onRefresh(this);
  }

  async addMultipleTargetTopics(_topics: string[]): Promise<void> {
    this.calls.addMultipleTargetTopics++;
    // A real cluster does I/O here; yielding keeps a supervisor that loops without waiting from starving the timers.
    await nextMacrotask();
  }

  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]> {
    const byLeader: Record<string, number[]> = {};
    for (const partition of partitions) {
      const nodeId = this.leaders.get(`${topic}-${partition}`);
      if (nodeId !== undefined) (byLeader[nodeId] ??= []).push(partition);
    }
    return byLeader;
  }

  async findBroker({ nodeId }: { nodeId: string }): Promise<InternalBroker> {
    this.calls.findBroker.push(nodeId);
    let broker = this.#brokers.get(nodeId);
    if (broker === undefined) this.#brokers.set(nodeId, (broker = new FakeBroker(nodeId, this)));
    return broker;
  }

  sentTo(nodeId: string): SentFetch[] {
    return this.sent.filter((f) => f.nodeId === nodeId);
  }
}

// ---- responses and errors ---------------------------------------------------------------------------------------------

/** A partition read without error: high watermark 10 past the fetch offset, a few record bytes. */
function fetchedOk(p: SentFetch['partitions'][number]): FetchedPartition {
  return {
    topic: p.topic,
    partition: p.partition,
    errorCode: 0,
    highWatermark: p.fetchOffset + 10,
    lastStableOffset: p.fetchOffset + 10,
    abortedTransactions: [],
    records: Buffer.from(`${p.topic}-${p.partition}@${p.fetchOffset}`),
  };
}

function okReply(fetch: SentFetch): FetchResponse {
  return { errorCode: 0, partitions: fetch.partitions.map(fetchedOk) };
}

/** Every requested partition read, except those listed, which carry the given error code. */
function replyWithErrors(codes: Record<string, number>): (fetch: SentFetch) => FetchResponse {
  return (fetch) => ({
    errorCode: 0,
    partitions: fetch.partitions.map((p) => {
      const code = codes[`${p.topic}-${p.partition}`];
      return code === undefined ? fetchedOk(p) : { ...fetchedOk(p), errorCode: code, records: Buffer.alloc(0) };
    }),
  });
}

/** Replies with `first` for the first `times` fetches, then as `then` does. */
function firstFetches(times: number, first: Reply, then: Reply = okReply): Reply {
  let n = 0;
  return (fetch, kafka) => (n++ < times ? first(fetch, kafka) : then(fetch, kafka));
}

/** What kafkajs throws when a broker cannot be reached. */
function connectionError(message = 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'): Error {
  return Object.assign(new Error(message), { name: 'KafkaJSConnectionError' });
}

/** Throws a new connection error per fetch, numbered, remembering the last one. */
function connectionFailures(): Reply & { last: Error | undefined } {
  let n = 0;
  const reply = Object.assign(
    (): FetchResponse => {
      reply.last = connectionError(`Connection error #${++n}`);
      throw reply.last;
    },
    { last: undefined as Error | undefined },
  );
  return reply;
}

// ---- the fetcher under test -------------------------------------------------------------------------------------------

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly attempts?: number;
}

const INFO = 30;
const WARN = 40;

interface Harness {
  readonly fetcher: SplitFetcher;
  readonly kafka: FakeKafka;
  readonly logs: LogLine[];
  readonly failures: unknown[];
  /** Every partition handed to onPartition. */
  readonly handed: FetchedPartition[];
  readonly outOfRange: string[];
  /** The offsets nextOffset returns, by `topic-partition` (0 when not set). */
  readonly offsets: Map<string, number>;
  readonly warnings: () => LogLine[];
  readonly fetchesAgain: () => LogLine[];
}

const SPLITS: readonly FetchedSplit[] = [
  { topic: 'orders', partition: 0 },
  { topic: 'orders', partition: 1 },
];

/** Starts a fetcher on `kafka` (default: both partitions of "orders" led by node 1); stopped when the test ends. */
function startFetcher(t: TestContext, kafka: FakeKafka, options: Partial<SplitFetcherOptions> = {}): Harness {
  const logs: LogLine[] = [];
  const failures: unknown[] = [];
  const handed: FetchedPartition[] = [];
  const outOfRange: string[] = [];
  const offsets = new Map<string, number>();
  const fetcher = new SplitFetcher({
    cluster: kafka,
    splits: SPLITS,
    nextOffset: (topic, partition) => offsets.get(`${topic}-${partition}`) ?? 0,
    awaitRoom: async () => true,
    onPartition: async (fetched) => void handed.push(fetched),
    onOffsetOutOfRange: async (topic, partition) => void outOfRange.push(`${topic}-${partition}`),
    onFailure: (error) => void failures.push(error),
    logger: pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) }),
    readCommitted: true,
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 1_048_576,
    maxBytesPerPartition: 65_536,
    retry: { retries: 5, initialRetryTimeMs: 5, maxRetryTimeMs: 20 },
    ...options,
  });
  t.after(async () => {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('stop() did not resolve within 1 s')), 1_000);
    });
    await Promise.race([fetcher.stop(), hung]).finally(() => clearTimeout(timer));
  });
  fetcher.start();
  return {
    fetcher,
    kafka,
    logs,
    failures,
    handed,
    outOfRange,
    offsets,
    warnings: () => logs.filter((l) => l.level === WARN),
    fetchesAgain: () => logs.filter((l) => l.level === INFO && /fetches again/.test(l.msg)),
  };
}

function singleLeader(nodeId = '1'): FakeKafka {
  return new FakeKafka({ 'orders-0': nodeId, 'orders-1': nodeId });
}

/** A promise the test settles. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * An awaitRoom whose answers the test gives one by one; when the test ends every pending and later ask is answered
 * false (as the reader does when it drops a fetcher), so stop() can return. Create it before the fetcher.
 */
function roomGates(t: TestContext): { awaitRoom: () => Promise<boolean>; readonly asks: ReturnType<typeof gate<boolean>>[] } {
  const asks: ReturnType<typeof gate<boolean>>[] = [];
  let released = false;
  t.after(() => {
    released = true;
    for (const ask of asks) ask.open(false);
  });
  return {
    asks,
    awaitRoom: () => {
      const room = gate<boolean>();
      asks.push(room);
      if (released) room.open(false);
      return room.promise;
    },
  };
}

/** Waits until the fetcher sent `count` fetches (in all), failing with what happened so far. */
async function fetches(h: Harness, count: number, to?: string): Promise<SentFetch[]> {
  const sent = () => (to === undefined ? h.kafka.sent : h.kafka.sentTo(to));
  await waitFor(() => sent().length >= count, {
    timeoutMs: 2_000,
    message: `${count} fetch(es)${to === undefined ? '' : ` to node ${to}`}`,
    describe: () => ({ events: h.kafka.events, failures: h.failures.map(String) }),
  });
  return sent();
}

async function failure(h: Harness): Promise<unknown> {
  await waitFor(() => h.failures.length > 0, { timeoutMs: 2_000, message: 'onFailure', describe: () => ({ events: h.kafka.events }) });
  return h.failures[0];
}

/** `topic-partition` names of a fetch's partitions. */
function asked(fetch: SentFetch): string[] {
  return fetch.partitions.map((p) => `${p.topic}-${p.partition}`);
}

/** Lets the fetcher run for `ms` and returns how many fetches went out meanwhile. */
async function fetchesDuring(h: Harness, ms: number): Promise<number> {
  const before = h.kafka.sent.length;
  await sleep(ms);
  return h.kafka.sent.length - before;
}

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
    sent.slice(0, 3).map((f) => f.partitions.map((p) => p.fetchOffset)),
    [
      [5, 7],
      [15, 17],
      [25, 27],
    ],
  );
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
  for (const fetch of kafka.sentTo('1')) assert.deepEqual(asked(fetch), ['orders-0', 'payments-0']);
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
  assert.equal(sent[0]?.partitions[0]?.fetchOffset, 40);
  assert.equal(sent[1]?.partitions[0]?.fetchOffset, 100);
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

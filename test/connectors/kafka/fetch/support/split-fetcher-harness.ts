// Shared harness for the SplitFetcher tests: a fake kafkajs cluster and brokers, canned replies, and a fetcher started on them.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setImmediate as nextMacrotask, setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { FetchedPartition, FetchResponse } from '../../../../../connectors/kafka/source/fetch/fetch-response.ts';
import type { InternalBroker, InternalCluster } from '../../../../../connectors/kafka/source/fetch/kafkajs-fetch.ts';
import { SplitFetcher, type FetchedSplit, type SplitFetcherOptions } from '../../../../../connectors/kafka/source/fetch/split-fetcher.ts';
import { waitFor } from '../../../../support/wait-for.ts';

// ---- fake kafkajs cluster ---------------------------------------------------------------------------------------------

type RequestDefinition = Parameters<InternalBroker['lookupRequest']>[1];
type BuildRequest = ReturnType<InternalBroker['lookupRequest']>;
type FetchArgs = Parameters<BuildRequest>[0];

/** One Fetch as sent: which broker, and the arguments kafkajs's request builder got. */
export interface SentFetch {
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
export type Reply = (fetch: SentFetch, kafka: FakeKafka) => FetchResponse | Promise<FetchResponse>;

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
export class FakeKafka implements InternalCluster {
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

export function okReply(fetch: SentFetch): FetchResponse {
  return { errorCode: 0, partitions: fetch.partitions.map(fetchedOk) };
}

/** Every requested partition read, except those listed, which carry the given error code. */
export function replyWithErrors(codes: Record<string, number>): (fetch: SentFetch) => FetchResponse {
  return (fetch) => ({
    errorCode: 0,
    partitions: fetch.partitions.map((p) => {
      const code = codes[`${p.topic}-${p.partition}`];
      return code === undefined ? fetchedOk(p) : { ...fetchedOk(p), errorCode: code, records: Buffer.alloc(0) };
    }),
  });
}

/** Replies with `first` for the first `times` fetches, then as `then` does. */
export function firstFetches(times: number, first: Reply, then: Reply = okReply): Reply {
  let n = 0;
  return (fetch, kafka) => (n++ < times ? first(fetch, kafka) : then(fetch, kafka));
}

/** What kafkajs throws when a broker cannot be reached. */
function connectionError(message = 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'): Error {
  return Object.assign(new Error(message), { name: 'KafkaJSConnectionError' });
}

/** Throws a new connection error per fetch, numbered, remembering the last one. */
export function connectionFailures(): Reply & { last: Error | undefined } {
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

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly attempts?: number;
}

const INFO = 30;
const WARN = 40;

export interface Harness {
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

export const SPLITS: readonly FetchedSplit[] = [
  { topic: 'orders', partition: 0 },
  { topic: 'orders', partition: 1 },
];

/** Starts a fetcher on `kafka` (default: both partitions of "orders" led by node 1); stopped when the test ends. */
export function startFetcher(t: TestContext, kafka: FakeKafka, options: Partial<SplitFetcherOptions> = {}): Harness {
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

export function singleLeader(nodeId = '1'): FakeKafka {
  return new FakeKafka({ 'orders-0': nodeId, 'orders-1': nodeId });
}

/** A promise the test settles. */
export function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/**
 * An awaitRoom whose answers the test gives one by one; when the test ends every pending and later ask is answered
 * false (as the reader does when it drops a fetcher), so stop() can return. Create it before the fetcher.
 */
export function roomGates(t: TestContext): { awaitRoom: () => Promise<boolean>; readonly asks: ReturnType<typeof gate<boolean>>[] } {
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
export async function fetches(h: Harness, count: number, to?: string): Promise<SentFetch[]> {
  const sent = () => (to === undefined ? h.kafka.sent : h.kafka.sentTo(to));
  await waitFor(() => sent().length >= count, {
    timeoutMs: 2_000,
    message: `${count} fetch(es)${to === undefined ? '' : ` to node ${to}`}`,
    describe: () => ({ events: h.kafka.events, failures: h.failures.map(String) }),
  });
  return sent();
}

export async function failure(h: Harness): Promise<unknown> {
  await waitFor(() => h.failures.length > 0, { timeoutMs: 2_000, message: 'onFailure', describe: () => ({ events: h.kafka.events }) });
  return h.failures[0];
}

/** `topic-partition` names of a fetch's partitions. */
export function asked(fetch: SentFetch): string[] {
  return fetch.partitions.map((p) => `${p.topic}-${p.partition}`);
}

/** Lets the fetcher run for `ms` and returns how many fetches went out meanwhile. */
export async function fetchesDuring(h: Harness, ms: number): Promise<number> {
  const before = h.kafka.sent.length;
  await sleep(ms);
  return h.kafka.sent.length - before;
}

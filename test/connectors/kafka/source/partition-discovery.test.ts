import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { test } from 'node:test';
import type { Admin } from 'kafkajs';
import { pino } from 'pino';
import { PartitionDiscovery, type DiscoveryReader } from '../../../../connectors/kafka/source/partition-discovery.ts';
import type { SourceReaderContext, SplitsChange } from '../../../../runtime/api/index.ts';
import { isSluiceError } from '../../../../runtime/errors/index.ts';
import { ManualClock } from '../../../../runtime/time/index.ts';

const INTERVAL_MS = 1_000;
const RETRY = { retries: 5, initialRetryTimeMs: 300, maxRetryTimeMs: 2_000 };

/** What kafkajs's admin throws when every broker failed a Metadata request (it dereferences the null it got). */
const nullMetadata = (): Error => new TypeError("Cannot read properties of null (reading 'topicMetadata')");
/** A kafkajs connection error, as its network layer throws it. */
const connectionError = (): Error => Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), { name: 'KafkaJSConnectionError', code: 'ECONNREFUSED' });

/** Topic → partition count answers of a fake admin; a function answer throws instead. */
type Answer = Record<string, number> | (() => Error);

interface LogLine {
  readonly level: number;
  readonly msg: string;
}

/** A discovery over a fake admin whose Metadata answers are `answers`, one per round (the last one repeats). */
function harness(answers: Answer[], known: Record<string, number>, intervalMs = INTERVAL_MS) {
  const clock = new ManualClock();
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  /** Rounds so far: each asks for the topic list first. */
  let round = 0;
  const answer = (): Record<string, number> => {
    const a = answers[Math.min(round - 1, answers.length - 1)] as Answer;
    if (typeof a === 'function') throw a();
    return a;
  };
  const admin = {
    listTopics: async () => {
      round++;
      return Object.keys(answer());
    },
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
      const counts = answer();
      return { topics: topics.map((name) => ({ name, partitions: Array.from({ length: counts[name] ?? 0 }, (_, partitionId) => ({ partitionId })) })) };
    },
  } as unknown as Admin;
  const seen = {
    failures: [] as Error[],
    added: [] as string[],
    restarts: 0,
    changes: [] as SplitsChange[],
    adminsDropped: 0,
    addSplitsFailures: 0,
    droppedTopics: [] as string[],
  };
  const reader: DiscoveryReader = {
    admin: async () => admin,
    dropAdmin: async () => {
      seen.adminsDropped++;
    },
    dropTopic: (topic) => {
      seen.droppedTopics.push(topic);
      return [0];
    },
    addSplits: async (owned) => {
      if (seen.addSplitsFailures > 0) {
        seen.addSplitsFailures--;
        throw connectionError();
      }
      for (const [topic, partitions] of owned) for (const p of partitions) seen.added.push(`${topic}-${p}`);
    },
    restartFetcher: async () => {
      seen.restarts++;
    },
    failed: () => seen.failures.length > 0,
    fail: (error) => void seen.failures.push(error),
  };
  const context = {
    job: 'discovery-test',
    subtask: 0,
    parallelism: 1,
    logger,
    clock,
    reportSplitsChanged: (change: SplitsChange) => void seen.changes.push(change),
  } as unknown as SourceReaderContext;
  const discovery = new PartitionDiscovery(
    { selection: { topics: undefined, topicPattern: /^t/ }, intervalMs, brokers: ['127.0.0.1:9092'], retry: RETRY, context, reader },
    new Map(Object.entries(known)),
  );
  /** Moves the clock in 100 ms steps, letting each round run, until `done` or `maxMs` of virtual time. */
  const runUntil = async (done: () => boolean, maxMs = 60_000): Promise<void> => {
    for (let t = 0; t < maxMs && !done(); t += 100) {
      clock.advance(100);
      for (let i = 0; i < 20; i++) await turn();
    }
  };
  return { discovery, seen, lines, clock, runUntil, rounds: () => round };
}

test('discovery: failed metadata rounds (null metadata, connection errors) are retried with one warning; partitions are discovered afterwards', async (t) => {
  const h = harness([nullMetadata, connectionError, nullMetadata, { t: 3 }], { t: 2 });
  t.after(() => h.discovery.stop());
  h.discovery.start();
  await h.runUntil(() => h.seen.restarts > 0);

  assert.deepEqual(h.seen.failures, [], 'the reader did not fail');
  assert.deepEqual(h.seen.added, ['t-2'], 'the new partition was discovered after the failures');
  assert.equal(h.seen.restarts, 1, 'the fetcher restarted once, with the new split');
  assert.deepEqual(h.seen.changes.map((c) => c.added), [['t-2']]);
  const warnings = h.lines.filter((l) => l.level === 40);
  assert.equal(warnings.length, 1, `one warning for the failures: ${JSON.stringify(warnings)}`);
  assert.match(warnings[0]?.msg ?? '', /could not read topic metadata.*retrying up to 5 time/);
  assert.ok(h.lines.some((l) => l.level === 30 && /again after 3 failed discovery round/.test(l.msg)), 'the recovery is logged');
  assert.ok(h.seen.adminsDropped >= 3, 'each retry used a fresh admin client');

  // Discovery goes on at its interval afterwards.
  await h.runUntil(() => h.rounds() >= 6);
  assert.deepEqual(h.seen.failures, []);
  assert.ok(h.clock.pendingTimers === 1, 'the next round is scheduled');
});

test('discovery: a round that fails half-way (adding the new splits) is retried whole', async (t) => {
  const h = harness([{ t: 1, t2: 2 }], { t: 1 });
  t.after(() => h.discovery.stop());
  h.seen.addSplitsFailures = 1;
  h.discovery.start();
  await h.runUntil(() => h.seen.restarts > 0);
  assert.deepEqual(h.seen.failures, []);
  assert.deepEqual(h.seen.added.sort(), ['t2-0', 't2-1']);
  assert.equal(h.seen.restarts, 1);
  assert.equal(h.seen.changes.length, 2, 'the change is reported again by the retried round (the runtime ignores repeats)');
});

test('discovery: metadata that stays unreadable past the retry budget fails the reader with a message that says so', async (t) => {
  const h = harness([nullMetadata], { t: 2 });
  t.after(() => h.discovery.stop());
  h.discovery.start();
  await h.runUntil(() => h.seen.failures.length > 0);

  assert.equal(h.seen.failures.length, 1);
  const error = h.seen.failures[0];
  assert.ok(isSluiceError(error, 'SLUICE_KAFKA_ERROR'), `a SluiceError: ${String(error)}`);
  assert.equal(error.retriable, true, 'the restart strategy decides: the cluster may be back after a restart');
  assert.match(error.message, /could not read topic metadata for new partitions 6 time\(s\) in a row over \d+\.\d s/);
  assert.match(error.message, /retry\.retries is 5/);
  assert.match(error.message, /no Kafka broker answered the Metadata request/);
  assert.equal(h.rounds(), 6, 'the first round and 5 retries');
  assert.equal(h.clock.pendingTimers, 0, 'no further round after the failure');
});

test('discovery: an authorization error fails the reader at once, as not retriable', async (t) => {
  const denied = (): Error => Object.assign(new Error('Not authorized to access topics: [Topic authorization failed]'), { name: 'KafkaJSProtocolError', type: 'TOPIC_AUTHORIZATION_FAILED' });
  const h = harness([denied], { t: 2 });
  t.after(() => h.discovery.stop());
  h.discovery.start();
  await h.runUntil(() => h.seen.failures.length > 0);
  assert.equal(h.rounds(), 1);
  const error = h.seen.failures[0];
  assert.ok(isSluiceError(error) && error.retriable === false, `not retriable: ${String(error)}`);
  assert.match(error.message, /credentials and ACLs/);
});

test('discovery: a topic missing from one metadata answer is kept; missing from two answers in a row, it is dropped', async (t) => {
  // Round 1 misses tx (a broker answering from an empty cache), round 2 sees it again, rounds 3 and 4 miss it.
  const h = harness([{ t: 2 }, { t: 2, tx: 1 }, { t: 2 }, { t: 2 }], { t: 2, tx: 1 });
  t.after(() => h.discovery.stop());
  h.discovery.start();
  await h.runUntil(() => h.rounds() >= 3);
  assert.deepEqual(h.seen.droppedTopics, [], 'not dropped after one answer without it');
  assert.deepEqual(h.seen.changes, []);
  await h.runUntil(() => h.seen.droppedTopics.length > 0);
  assert.equal(h.rounds(), 4, 'dropped by the second answer in a row without it');
  assert.deepEqual(h.seen.droppedTopics, ['tx']);
  assert.deepEqual(h.seen.changes, [{ splits: 2, added: [], removed: ['tx-0'] }]);
  assert.equal(h.seen.restarts, 1, 'the fetcher restarted without the dropped split');
  assert.deepEqual(h.seen.failures, []);
});

test('discovery: soon() (the fetcher met an unknown partition) runs a round now, and a missing topic is confirmed after the retry time, not the interval', async (t) => {
  const h = harness([{ t: 2 }], { t: 2, tx: 1 }, 600_000);
  t.after(() => h.discovery.stop());
  h.discovery.start();
  await h.runUntil(() => false, 1_000);
  assert.equal(h.rounds(), 0, 'no round before the 10-minute interval');
  h.discovery.soon();
  await h.runUntil(() => h.seen.droppedTopics.length > 0, 5_000);
  assert.deepEqual(h.seen.droppedTopics, ['tx'], 'dropped within seconds, not at the next interval');
  assert.equal(h.rounds(), 2);
  assert.ok(h.clock.now() <= 1_000 + RETRY.initialRetryTimeMs + 100, `confirmed by ${h.clock.now()} ms`);
});

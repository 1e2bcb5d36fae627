import type { Admin } from 'kafkajs';
import type { SourceReaderContext } from '../../../runtime/api/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import type { TimerHandle } from '../../../runtime/time/index.ts';
import { kafkaSplitId, kafkaSplitOwner } from '../split-owner.ts';
import { isConnectionFailure, KafkaSourceErrorCode } from './errors.ts';
import { fetchPartitionCounts, type PartitionCounts, type TopicSelection } from './topic-metadata.ts';

/**
 * Partitions of `counts` that `subtask` of `parallelism` owns, grouped by topic; with `from`, only partitions at or
 * past the counts there (the new ones).
 */
export function ownedPartitions(
  counts: PartitionCounts,
  subtask: number,
  parallelism: number,
  from: PartitionCounts = new Map(),
): Map<string, number[]> {
  const owned = new Map<string, number[]>();
  for (const [topic, count] of counts) {
    const partitions: number[] = [];
    for (let p = from.get(topic) ?? 0; p < count; p++) if (kafkaSplitOwner(topic, p, parallelism) === subtask) partitions.push(p);
    if (partitions.length > 0) owned.set(topic, partitions);
  }
  return owned;
}

/** What discovery needs of the reader whose splits it keeps up to date. */
export interface DiscoveryReader {
  /** The reader's admin client, connected on demand. */
  admin(): Promise<Admin>;
  /** Disconnects and forgets the admin client; the next `admin()` makes a new one. */
  dropAdmin(): Promise<void>;
  /** Stops reading every split of `topic`; returns the partitions of it this reader had. */
  dropTopic(topic: string): number[];
  /** Starts reading newly discovered splits (from the earliest offset). */
  addSplits(owned: ReadonlyMap<string, readonly number[]>): Promise<void>;
  /** Restarts fetching with the current splits; `freshCluster` after a topic was deleted. */
  restartFetcher(freshCluster: boolean): Promise<void>;
  /** True once the reader failed: no further round runs. */
  failed(): boolean;
  /** Fails the reader (its next `poll()` throws). */
  fail(error: Error): void;
}

export interface PartitionDiscoveryOptions {
  readonly selection: TopicSelection;
  readonly intervalMs: number;
  readonly brokers: readonly string[];
  /** The source's retry budget: failed rounds in a row before the reader fails, and the backoff between them. */
  readonly retry: { readonly retries: number; readonly initialRetryTimeMs: number; readonly maxRetryTimeMs: number };
  readonly context: SourceReaderContext;
  readonly reader: DiscoveryReader;
}

/**
 * Kafka errors no retry can fix: the client may not see the topics at all. Anything else a round meets — a dropped
 * connection, a broker answering an error for a topic being created or deleted, kafkajs's own null-metadata
 * TypeError — is a state of the cluster that passes.
 */
const FATAL_KAFKA_ERRORS = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
]);

/**
 * Polls topic metadata every `intervalMs` and applies the difference to the reader: splits of new partitions and
 * topics it owns are added, splits of deleted topics dropped, and the runtime is told of every change (its rescale
 * policy decides what happens to the job). See "Discovery" in docs/connectors/kafka.md.
 */
export class PartitionDiscovery {
  readonly #o: PartitionDiscoveryOptions;
  /** Partition counts as of the last discovery. */
  #known: PartitionCounts;
  #timer: TimerHandle | undefined;
  #round: Promise<void> | undefined;
  #stopped = false;
  /** Rounds failed in a row, and when the first of them failed. */
  #failures = 0;
  #failingSince = 0;
  /** Set when splits changed and the fetcher has not restarted with them yet (a round may fail in between). */
  #owedRestart = false;
  /** Set when a topic was deleted since the fetcher's cluster was made: the restart takes a fresh one. */
  #owedFreshCluster = false;
  /** Known topics the last round did not see: deleted if the next round does not see them either. */
  #missingOnce = new Set<string>();

  /** `known`: the partition counts the reader started with. */
  constructor(options: PartitionDiscoveryOptions, known: PartitionCounts) {
    this.#o = options;
    this.#known = known;
  }

  /** Schedules the first round. */
  start(): void {
    this.#schedule();
  }

  /**
   * Runs the next round now (unless one is running): the fetcher was told a split's partition is unknown, most
   * likely because its topic was deleted. Without this, a `discoveryIntervalMs` longer than the fetcher's retry budget
   * would fail the attempt before discovery noticed the deletion.
   */
  soon(): void {
    if (this.#stopped || this.#timer === undefined) return;
    this.#o.context.clock.clearTimeout(this.#timer);
    this.#schedule(0);
  }

  /** Cancels the next round at once; resolves when a round in flight is done. */
  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.context.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#round ?? Promise.resolve();
  }

  #schedule(delayMs = this.#o.intervalMs): void {
    if (this.#stopped) return;
    const o = this.#o;
    this.#timer = o.context.clock.setTimeout(() => {
      this.#timer = undefined;
      let next: number | undefined = o.intervalMs;
      this.#round = this.#discover()
        .then(
          () => {
            this.#succeeded();
            // A topic missed once is confirmed (or not) soon: its splits fail their fetches meanwhile.
            if (this.#missingOnce.size > 0) next = Math.min(o.intervalMs, o.retry.initialRetryTimeMs);
          },
          async (err: unknown) => {
            next = this.#roundFailed(err);
            // A fresh admin for the retry: kafkajs keeps a client's metadata and the topics it was asked about, and
            // a stale entry (a topic deleted meanwhile) would fail every later request of that client.
            if (next !== undefined) await this.#o.reader.dropAdmin();
          },
        )
        .finally(() => {
          this.#round = undefined;
          if (next !== undefined) this.#schedule(next);
        });
    }, delayMs);
  }

  #succeeded(): void {
    if (this.#failures === 0) return;
    this.#o.context.logger.info({ attempts: this.#failures }, `Kafka source reads topic metadata again after ${this.#failures} failed discovery round(s)`);
    this.#failures = 0;
  }

  /**
   * A failed round is retried after a backoff (the source's `retry` schedule, like the fetcher's), with one warning
   * for the first failure: topic metadata is briefly unreadable while topics are created or deleted or a broker
   * restarts, and failing the attempt for that would replay everything since the last checkpoint for nothing. Fails
   * the reader after `retries` failed retries in a row, or at once on an error retrying cannot fix. Returns the
   * delay to the next round, or undefined when the reader failed.
   */
  #roundFailed(err: unknown): number | undefined {
    const { reader, context, retry, brokers } = this.#o;
    if (this.#stopped || reader.failed()) return undefined;
    const message = (err as Error)?.message ?? String(err);
    if (isFatal(err)) {
      reader.fail(
        err instanceof SluiceError
          ? err
          : new SluiceError(KafkaSourceErrorCode.client, `Kafka refused the topic metadata the source polls for new partitions (brokers ${brokers.join(', ')}): ${message}; check the client's credentials and ACLs`, {
              cause: err,
              retriable: false,
            }),
      );
      return undefined;
    }
    const now = context.clock.now();
    if (this.#failures === 0) this.#failingSince = now;
    if (this.#failures >= retry.retries) {
      const seconds = ((now - this.#failingSince) / 1000).toFixed(1);
      const unreachable = isConnectionFailure(err);
      reader.fail(
        new SluiceError(
          unreachable ? KafkaSourceErrorCode.unreachable : KafkaSourceErrorCode.client,
          `the Kafka source could not read topic metadata for new partitions ${this.#failures + 1} time(s) in a row over ${seconds} s ` +
            `(brokers ${brokers.join(', ')}; retry.retries is ${retry.retries}): ${message}. ` +
            (unreachable ? 'Check that the brokers are running and reachable from this host. ' : '') +
            'The job restarts by its restart strategy and resumes from its last checkpoint.',
          { cause: err, retriable: true },
        ),
      );
      return undefined;
    }
    this.#failures++;
    if (this.#failures === 1) {
      context.logger.warn(
        { err, retries: retry.retries },
        `Kafka source could not read topic metadata for new partitions (${message}); retrying up to ${retry.retries} time(s) with backoff`,
      );
    } else {
      context.logger.debug({ err, failures: this.#failures }, 'Kafka source discovery round failed again');
    }
    return backoffMs(this.#failures, retry);
  }

  /**
   * One discovery round: compare partition counts with the last ones and apply the difference. A round that fails
   * half-way is retried whole: `#known` moves past a part of the change only once that part is applied (the deleted
   * topics, then the added partitions), and a fetcher restart it owes is carried to the next round.
   */
  async #discover(): Promise<void> {
    const { reader, context } = this.#o;
    if (this.#stopped || reader.failed()) return;
    const answered = await fetchPartitionCounts(await reader.admin(), this.#o.selection, false);
    if (this.#stopped) return;
    const previous = this.#known;
    // A topic missing from one answer may still exist: a broker that just (re)started answers from an empty metadata
    // cache until the controller fills it. Dropping the topic then would re-read it from its earliest offset when it
    // shows up again, duplicating everything read so far; so a topic counts as deleted once two rounds in a row miss it.
    const counts = new Map(answered);
    const missingNow = new Set<string>();
    for (const [topic, count] of previous) {
      if (answered.has(topic) || this.#missingOnce.has(topic)) continue;
      missingNow.add(topic);
      counts.set(topic, count);
    }
    if (missingNow.size > 0) context.logger.debug({ topics: [...missingNow] }, 'Kafka topic(s) missing from topic metadata once; deleted if the next round misses them too');
    this.#missingOnce = missingNow;
    const added: string[] = [];
    const removed: string[] = [];
    for (const [topic, count] of counts) for (let p = previous.get(topic) ?? 0; p < count; p++) added.push(kafkaSplitId(topic, p));
    const removedTopics = [...previous.keys()].filter((t) => !counts.has(t));
    for (const topic of removedTopics) for (let p = 0; p < (previous.get(topic) ?? 0); p++) removed.push(kafkaSplitId(topic, p));
    if (added.length > 0 || removed.length > 0) {
      let total = 0;
      for (const count of counts.values()) total += count;
      // A retried round may report the same change again; the runtime ignores repeats.
      context.reportSplitsChanged({ splits: total, added, removed });
      for (const topic of removedTopics) {
        const dropped = reader.dropTopic(topic);
        if (dropped.length > 0) this.#owedRestart = true;
        // Every subtask sees the deletion; the owner of the topic's partition 0 reports it, so the job logs it once.
        const count = previous.get(topic) ?? 0;
        const reporter = kafkaSplitOwner(topic, 0, context.parallelism) === context.subtask;
        context.logger[reporter ? 'warn' : 'debug'](
          { topic, partitions: count, droppedHere: dropped },
          `Kafka topic "${topic}" no longer exists; the source stops reading its ${count} partition(s) and goes on with the others`,
        );
      }
      if (removedTopics.length > 0) {
        this.#known = new Map([...previous].filter(([topic]) => counts.has(topic)));
        this.#owedFreshCluster = true;
        // kafkajs keeps asking for metadata of every topic it was once asked about; a deleted one would fail those
        // requests. The admin is made again on demand, the fetcher's cluster on the restart below.
        await reader.dropAdmin();
      }
      const owned = ownedPartitions(counts, context.subtask, context.parallelism, previous);
      if (owned.size > 0) {
        await reader.addSplits(owned);
        this.#owedRestart = true;
        context.logger.info({ added: [...owned].flatMap(([t, ps]) => ps.map((p) => kafkaSplitId(t, p))) }, 'Kafka source reads newly discovered partitions from the earliest offset');
      }
      this.#known = counts;
    }
    if (this.#owedRestart && !this.#stopped) {
      await reader.restartFetcher(this.#owedFreshCluster);
      this.#owedRestart = false;
      this.#owedFreshCluster = false;
    }
  }
}

function isFatal(err: unknown): boolean {
  if (err instanceof SluiceError && err.retriable !== undefined) return !err.retriable;
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as { name?: unknown; type?: unknown; cause?: unknown; originalError?: unknown };
    if (e.name === 'KafkaJSSASLAuthenticationError' || (typeof e.type === 'string' && FATAL_KAFKA_ERRORS.has(e.type))) return true;
    current = e.cause ?? e.originalError;
  }
  return false;
}

/** The initial retry time doubled per failure, capped, with ±20 % jitter (kafkajs's schedule, as the fetcher's). */
function backoffMs(failures: number, retry: PartitionDiscoveryOptions['retry']): number {
  const base = Math.min(retry.maxRetryTimeMs, retry.initialRetryTimeMs * 2 ** (failures - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

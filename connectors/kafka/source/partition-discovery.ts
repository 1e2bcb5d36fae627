import type { Admin } from 'kafkajs';
import type { SourceReaderContext } from '../../../runtime/api/index.ts';
import type { TimerHandle } from '../../../runtime/time/index.ts';
import { kafkaSplitId, kafkaSplitOwner } from '../split-owner.ts';
import { wrapKafkaError } from './errors.ts';
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
  readonly context: SourceReaderContext;
  readonly reader: DiscoveryReader;
}

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

  /** `known`: the partition counts the reader started with. */
  constructor(options: PartitionDiscoveryOptions, known: PartitionCounts) {
    this.#o = options;
    this.#known = known;
  }

  /** Schedules the first round. */
  start(): void {
    this.#schedule();
  }

  /** Cancels the next round at once; resolves when a round in flight is done. */
  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.context.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#round ?? Promise.resolve();
  }

  #schedule(): void {
    if (this.#stopped) return;
    const o = this.#o;
    this.#timer = o.context.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#round = this.#discover()
        .catch((err: unknown) => o.reader.fail(wrapKafkaError(err, 'polling topic metadata for new partitions', o.brokers)))
        .finally(() => {
          this.#round = undefined;
          this.#schedule();
        });
    }, o.intervalMs);
  }

  /** One discovery round: compare partition counts with the last ones and apply the difference. */
  async #discover(): Promise<void> {
    const { reader, context } = this.#o;
    if (this.#stopped || reader.failed()) return;
    const counts = await fetchPartitionCounts(await reader.admin(), this.#o.selection, false);
    if (this.#stopped) return;
    const previous = this.#known;
    const added: string[] = [];
    const removed: string[] = [];
    for (const [topic, count] of counts) for (let p = previous.get(topic) ?? 0; p < count; p++) added.push(kafkaSplitId(topic, p));
    const removedTopics = [...previous.keys()].filter((t) => !counts.has(t));
    for (const topic of removedTopics) for (let p = 0; p < (previous.get(topic) ?? 0); p++) removed.push(kafkaSplitId(topic, p));
    if (added.length === 0 && removed.length === 0) return;
    this.#known = counts;
    let total = 0;
    for (const count of counts.values()) total += count;
    context.reportSplitsChanged({ splits: total, added, removed });

    let changed = false;
    for (const topic of removedTopics) {
      const dropped = reader.dropTopic(topic);
      if (dropped.length > 0) changed = true;
      // Every subtask sees the deletion; the owner of the topic's partition 0 reports it, so the job logs it once.
      const count = previous.get(topic) ?? 0;
      const reporter = kafkaSplitOwner(topic, 0, context.parallelism) === context.subtask;
      context.logger[reporter ? 'warn' : 'debug'](
        { topic, partitions: count, droppedHere: dropped },
        `Kafka topic "${topic}" no longer exists; the source stops reading its ${count} partition(s) and goes on with the others`,
      );
    }
    if (removedTopics.length > 0) {
      // kafkajs keeps asking for metadata of every topic it was once asked about; a deleted one would fail those
      // requests. The admin is made again on demand, the fetcher's cluster on the restart below.
      await reader.dropAdmin();
    }
    const owned = ownedPartitions(counts, context.subtask, context.parallelism, previous);
    if (owned.size > 0) {
      await reader.addSplits(owned);
      changed = true;
      context.logger.info({ added: [...owned].flatMap(([t, ps]) => ps.map((p) => kafkaSplitId(t, p))) }, 'Kafka source reads newly discovered partitions from the earliest offset');
    }
    if (changed && !this.#stopped) await reader.restartFetcher(removedTopics.length > 0);
  }
}

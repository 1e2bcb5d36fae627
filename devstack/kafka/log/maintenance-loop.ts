import type { Logger } from '../../../runtime/logging/index.ts';
import type { PartitionLog } from './partition-log.ts';
import type { TopicStore } from './topic-store.ts';

/** Kafka's `log.cleaner.backoff.ms` default: how long the cleaner sleeps between looks for dirty logs. */
export const DEFAULT_CLEANER_BACKOFF_MS = 15_000;
/** Kafka's `log.retention.check.interval.ms` default: how often segments are checked against retention. */
export const DEFAULT_RETENTION_CHECK_INTERVAL_MS = 300_000;

/** One kind of background work on partitions: answers what it removed from the log, or undefined when it did nothing. */
export type PartitionTask = (log: PartitionLog, now: number) => number | undefined;

/**
 * A broker background thread, as a timer: every `intervalMs` it runs `task` on each partition — the log cleaner
 * ({@link PartitionLog.compact}) every `log.cleaner.backoff.ms`, retention ({@link PartitionLog.applyRetention})
 * every `log.retention.check.interval.ms`. A pass runs on the broker's event loop; its cost is proportional to the
 * logs it rewrites.
 *
 * @example
 * ```ts
 * const cleaner = new MaintenanceLoop('log cleaner', topics, 15_000, (log, now) => log.compact(now), logger);
 * cleaner.start();
 * // ...
 * cleaner.stop();
 * ```
 */
export class MaintenanceLoop {
  readonly #name: string;
  readonly #topics: TopicStore;
  readonly #intervalMs: number;
  readonly #task: PartitionTask;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(name: string, topics: TopicStore, intervalMs: number, task: PartitionTask, logger: Logger) {
    this.#name = name;
    this.#topics = topics;
    this.#intervalMs = intervalMs;
    this.#task = task;
    this.#logger = logger;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.runOnce(Date.now()), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Runs the task once on every partition; answers what it removed in all. */
  runOnce(now: number): number {
    let removed = 0;
    for (const topic of this.#topics.all()) {
      for (const log of topic.partitions) {
        try {
          const n = this.#task(log, now);
          if (n === undefined) continue;
          removed += n;
          this.#logger.debug({ topic: topic.name, partition: log.partition, removed: n, bytes: log.sizeInBytes, logStartOffset: log.logStartOffset }, `${this.#name} ran on a partition`);
        } catch (err) {
          // Go on with the other partitions, as Kafka's cleaner does after marking one uncleanable. A pass changes the
          // in-memory log only once its result is complete; a rewrite of the file that failed leaves the file as it
          // was before the pass, which a restart reads (and cleans again).
          this.#logger.error({ err, topic: topic.name, partition: log.partition }, `${this.#name} failed on a partition; its log is left as it was`);
        }
      }
    }
    return removed;
  }
}

import type { Logger } from '../../../runtime/logging/index.ts';
import type { TopicStore } from './topic-store.ts';

/** Kafka's `log.cleaner.backoff.ms` default: how long the cleaner sleeps between looks for dirty logs. */
export const DEFAULT_CLEANER_BACKOFF_MS = 15_000;

/**
 * The broker's log cleaner thread, as a timer: every `backoffMs` it gives each partition of a compacted topic one
 * pass ({@link PartitionLog.compact}), which cleans those whose dirty ratio is past the topic's
 * `min.cleanable.dirty.ratio`. A pass runs on the broker's event loop; its cost is proportional to the cleanable log.
 *
 * @example
 * ```ts
 * const cleaner = new CleanerLoop(topics, 15_000, logger);
 * cleaner.start();
 * // ...
 * cleaner.stop();
 * ```
 */
export class CleanerLoop {
  readonly #topics: TopicStore;
  readonly #backoffMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(topics: TopicStore, backoffMs: number, logger: Logger) {
    this.#topics = topics;
    this.#backoffMs = backoffMs;
    this.#logger = logger;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.runOnce(Date.now()), this.#backoffMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Gives every compacted partition one pass; answers the records removed in all. */
  runOnce(now: number): number {
    let removed = 0;
    for (const topic of this.#topics.all()) {
      for (const log of topic.partitions) {
        try {
          const n = log.compact(now);
          if (n === undefined) continue;
          removed += n;
          this.#logger.debug({ topic: topic.name, partition: log.partition, removed: n, bytes: log.sizeInBytes }, 'log cleaner cleaned a partition');
        } catch (err) {
          // Kafka marks such a partition uncleanable and goes on with the others; the log itself is untouched.
          this.#logger.error({ err, topic: topic.name, partition: log.partition }, 'log cleaner failed on a partition; its log is left as it was');
        }
      }
    }
    return removed;
  }
}

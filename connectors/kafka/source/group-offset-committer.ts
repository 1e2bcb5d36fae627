import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from '../../../runtime/logging/index.ts';

/** Offsets to commit: next offset per partition per topic. */
export type GroupOffsets = ReadonlyMap<string, ReadonlyMap<number, number>>;

/**
 * Commits the offsets of completed checkpoints to the job's consumer group, for lag tooling only (recovery never
 * reads them). The group is never joined by Sluice, so kafkajs's consumer `commitOffsets` (which needs a member of
 * the group) cannot be used, and `admin.setOffsets` joins the group with a throw-away consumer, refuses unless the
 * group is empty and commits only what that consumer gets assigned — wrong for several subtasks committing at once.
 * kafkajs's public API that can commit to a group without joining it is the transactional producer's
 * `sendOffsets` (TxnOffsetCommit, which up to v2 — Kafka 2.1's — checks no generation or member id): one
 * transaction per commit, holding only offsets. The transactional id is per (group, source, subtask), so a zombie
 * of an earlier attempt is fenced.
 *
 * Commits run in the background (the subtask never waits for lag bookkeeping) and coalesce: while one is in flight
 * only the newest offsets wait. A failure is logged (once per minute) and never fails the job.
 */
export class GroupOffsetCommitter {
  readonly #kafka: Kafka;
  readonly #groupId: string;
  readonly #transactionalId: string;
  readonly #logger: Logger;
  #producer: Producer | undefined;
  #pending: GroupOffsets | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  #lastWarning = 0;

  constructor(kafka: Kafka, groupId: string, transactionalId: string, logger: Logger) {
    this.#kafka = kafka;
    this.#groupId = groupId;
    this.#transactionalId = transactionalId;
    this.#logger = logger;
  }

  /** Schedules a commit of `offsets`; returns at once. */
  commit(offsets: GroupOffsets): void {
    if (this.#closed || offsets.size === 0) return;
    this.#pending = offsets;
    this.#running ??= this.#drain().finally(() => (this.#running = undefined));
  }

  /** Resolves when no commit is in flight or waiting (for tests). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#pending = undefined;
    await this.#running;
    const producer = this.#producer;
    this.#producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  async #drain(): Promise<void> {
    while (this.#pending !== undefined && !this.#closed) {
      const offsets = this.#pending;
      this.#pending = undefined;
      try {
        await this.#send(offsets);
      } catch (err) {
        const producer = this.#producer;
        this.#producer = undefined;
        await producer?.disconnect().catch(() => undefined);
        const now = Date.now();
        if (now - this.#lastWarning > 60_000) {
          this.#lastWarning = now;
          this.#logger.warn(
            { err: (err as Error)?.message ?? String(err), groupId: this.#groupId },
            `could not commit checkpointed offsets to consumer group "${this.#groupId}" (lag tooling only; the job is not affected)`,
          );
        }
      }
    }
  }

  async #send(offsets: GroupOffsets): Promise<void> {
    if (this.#producer === undefined) {
      const producer = this.#kafka.producer({
        transactionalId: this.#transactionalId,
        idempotent: true,
        // Named, so kafkajs does not warn that its default changed in v2 (this producer sends no records anyway).
        createPartitioner: Partitioners.DefaultPartitioner,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: { retries: 2 },
      });
      await producer.connect();
      this.#producer = producer;
    }
    const transaction = await this.#producer.transaction();
    try {
      await transaction.sendOffsets({
        consumerGroupId: this.#groupId,
        topics: [...offsets].map(([topic, partitions]) => ({
          topic,
          partitions: [...partitions].map(([partition, offset]) => ({ partition, offset: String(offset) })),
        })),
      });
      await transaction.commit();
    } catch (err) {
      await transaction.abort().catch(() => undefined);
      throw err;
    }
  }
}

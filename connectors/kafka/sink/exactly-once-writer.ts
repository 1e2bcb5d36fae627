import type { SinkWriter, SinkWriterContext } from '../../../runtime/api/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import { InFlight } from '../in-flight.ts';
import { createKafkaClient, unreachable } from './kafka-client.ts';
import { createCluster, type ClusterHandle } from './kafkajs-internals.ts';
import type { ResolvedKafkaSinkOptions } from './options.ts';
import { SendPipeline } from './send-pipeline.ts';
import { abortOwnTransaction, commitRestoredTransaction, fenceTransactionalId, type PreCommittedTransaction } from './transaction-recovery.ts';
import { checkTransactionTimeout } from './transaction-timeout.ts';
import { TransactionalProducer } from './transactional-producer.ts';

/**
 * Transactional ids per subtask. A Kafka producer has at most one open transaction, but between barrier `n` and the
 * completion of checkpoint `n` a subtask holds two: `n`'s, pre-committed and waiting for `commit(n)`, and the one
 * taking records after the barrier. Two suffice because the runtime delivers `commit(n)` (as mail) before barrier
 * `n+1` can reach a sink: checkpoints never overlap and the coordinator posts the commit before triggering the next.
 */
export const TRANSACTION_SLOTS = 2;

/** Operator state of one exactly-once writer, stored in each checkpoint. */
export interface ExactlyOnceSinkState {
  /** The writer's subtask when the checkpoint was taken. */
  readonly subtask: number;
  /** The sink's parallelism when the checkpoint was taken. */
  readonly parallelism: number;
  /** The transactional id prefix in use then. */
  readonly prefix: string;
  /** Pre-committed transactions not yet committed, oldest first. */
  readonly transactions: readonly PreCommittedTransaction[];
}

/** Transactional id of `slot` of subtask `subtask`. */
export function transactionalIdOf(prefix: string, subtask: number, slot: number): string {
  return `${prefix}-${subtask}-${slot}`;
}

/**
 * Exactly-once (docs/connectors/kafka-sink.md): one Kafka transaction per subtask per checkpoint.
 *
 * - Records go into the open transaction. On barrier `n`, `preCommit` flushes it (every record acknowledged by the
 *   partition leaders) and keeps it open; its transactional id, producer id and epoch go into checkpoint `n`, and the
 *   next records go into a new transaction on the subtask's other slot.
 * - `commit(n)` (checkpoint `n` is durable) commits every transaction pre-committed at or before `n`.
 * - `start()` on restore first commits the transactions the restored checkpoint lists (it completed, but the commit
 *   may not have run), then fences every id the failed attempt may have used: its own slots (by initialising them)
 *   and those of old subtasks that no longer exist after a rescale down. Old subtask `j` is handled by new subtask
 *   `j mod p`, so every id has exactly one owner and each recommit happens before its id is re-initialised.
 * - In cluster mode, nothing here initialises a transactional id once `context.stillOwner()` is false: that would
 *   abort the transactions of the job's new owner.
 * - `close('failed' | 'cancelled')` aborts the open transaction under its own producer epoch once its sends settled,
 *   so it never touches a transaction of a later holder of the id; pre-committed ones are left for the restore to
 *   commit.
 */
export class ExactlyOnceWriter<T> implements SinkWriter<T> {
  readonly #options: ResolvedKafkaSinkOptions<T>;
  readonly #context: SinkWriterContext;
  readonly #prefix: string;
  #handle: ClusterHandle | undefined;
  #producers: TransactionalProducer[] = [];
  #current = 0;
  #pipeline: SendPipeline<T> | undefined;
  /** Pre-committed, awaiting `commit`: slot and what the checkpoint records. */
  #pending: Array<{ slot: number; txn: PreCommittedTransaction }> = [];
  /**
   * Set when `close` begins. The runtime may close a failing attempt while this subtask is still inside `preCommit`;
   * a pre-commit finishing after close began must not be acknowledged, because close aborts the open transaction.
   */
  #closed = false;
  /** start, pre-commit, commit, finish and close's fence while they run: close disconnects after them (see InFlight). */
  readonly #inFlight = new InFlight();

  constructor(options: ResolvedKafkaSinkOptions<T>, context: SinkWriterContext) {
    this.#options = options;
    this.#context = context;
    this.#prefix = options.transactionalIdPrefix ?? defaultPrefix(context.job, context.role);
  }

  start(): Promise<void> {
    return this.#inFlight.track(this.#start());
  }

  async #start(): Promise<void> {
    const { job, subtask, parallelism, logger } = this.#context;
    if (!this.#context.checkpointing) {
      throw new SluiceError(
        'SLUICE_INVALID_OPTION',
        `kafkaSink of job "${job}" has guarantee "exactly-once" but the job takes no checkpoints: transactions commit on checkpoints; set checkpoints: { intervalMs } in the job's options, or use guarantee "at-least-once"`,
        { retriable: false },
      );
    }
    const timing = this.#context.checkpointTiming;
    if (timing !== undefined) checkTransactionTimeout(this.#options.transactionTimeoutMs, timing, job);
    const restored = parseRestored(this.#context.restoredState, job);

    const kafka = createKafkaClient(this.#options as ResolvedKafkaSinkOptions<unknown>, this.#context);
    const handle = createCluster(kafka);
    this.#handle = handle;
    try {
      await handle.cluster.connect();
    } catch (err) {
      throw unreachable(this.#options as ResolvedKafkaSinkOptions<unknown>, this.#context, err);
    }

    // 1. Re-commit what the restored checkpoint pre-committed, for the old subtasks this subtask now owns.
    const timeoutMs = this.#options.transactionTimeoutMs;
    const owned = restored.filter((s) => s.subtask % parallelism === subtask);
    for (const state of owned) {
      for (const txn of state.transactions) {
        this.#throwIfClosed();
        await commitRestoredTransaction(handle, txn, { logger, now: this.#context.clock.now(), transactionTimeoutMs: timeoutMs });
      }
    }
    // 2. Fence ids the failed attempt may have left open that this subtask will not initialise itself: old subtasks
    //    beyond the new parallelism, and any id under a prefix that has changed since.
    const fenced = new Set<string>();
    const oldParallelism = Math.max(0, ...restored.map((s) => s.parallelism));
    const prefixes = new Set(restored.map((s) => s.prefix));
    for (const prefix of prefixes) {
      for (let old = subtask; old < oldParallelism; old += parallelism) {
        if (old === subtask && prefix === this.#prefix) continue;
        for (let slot = 0; slot < TRANSACTION_SLOTS; slot++) fenced.add(transactionalIdOf(prefix, old, slot));
      }
    }
    for (const id of fenced) {
      this.#throwIfClosed();
      this.#throwIfNotOwner();
      await fenceTransactionalId(handle, id, timeoutMs);
    }
    // 3. Take this subtask's own ids over (fencing whatever the previous attempt left in them) and open a transaction.
    for (let slot = 0; slot < TRANSACTION_SLOTS; slot++) {
      this.#throwIfClosed();
      this.#throwIfNotOwner();
      const producer = new TransactionalProducer(handle, transactionalIdOf(this.#prefix, subtask, slot), timeoutMs);
      await producer.init();
      this.#producers.push(producer);
    }
    if (fenced.size > 0 || owned.length > 0) {
      logger.info({ recommitted: owned.reduce((n, s) => n + s.transactions.length, 0), fenced: [...fenced] }, 'kafkaSink restored its transactions');
    }
    this.#open(0);
  }

  write = (records: readonly T[]): Promise<void> | undefined => this.#openPipeline().add(records);

  preCommit(checkpointId: number): Promise<ExactlyOnceSinkState> {
    return this.#inFlight.track(this.#preCommit(checkpointId));
  }

  async #preCommit(checkpointId: number): Promise<ExactlyOnceSinkState> {
    const pipeline = this.#openPipeline();
    await pipeline.flush();
    this.#throwIfClosed();
    if (pipeline.written > 0) {
      const producer = this.#producers[this.#current] as TransactionalProducer;
      this.#pending.push({
        slot: this.#current,
        txn: {
          transactionalId: producer.transactionalId,
          producerId: producer.producerId,
          producerEpoch: producer.producerEpoch,
          checkpointId,
          preCommittedAt: this.#context.clock.now(),
        },
      });
      const free = this.#producers.findIndex((_, slot) => !this.#pending.some((p) => p.slot === slot));
      if (free < 0) {
        throw new SluiceError(
          'SLUICE_INTERNAL',
          `kafkaSink subtask ${this.#context.subtask}: barrier ${checkpointId} arrived while ${this.#pending.length - 1} earlier transaction(s) still await their commit; only ${TRANSACTION_SLOTS} transactions per subtask can be open (checkpoints must not overlap)`,
        );
      }
      this.#open(free);
    }
    this.#context.logger.debug({ checkpoint: checkpointId, written: pipeline.written, pending: this.#pending.map((p) => p.txn), current: this.#current }, 'kafkaSink pre-committed');
    return {
      subtask: this.#context.subtask,
      parallelism: this.#context.parallelism,
      prefix: this.#prefix,
      transactions: this.#pending.map((p) => p.txn),
    };
  }

  commit(checkpointId: number): Promise<void> {
    return this.#inFlight.track(this.#commit(checkpointId));
  }

  async #commit(checkpointId: number): Promise<void> {
    while (this.#pending.length > 0 && (this.#pending[0] as { txn: PreCommittedTransaction }).txn.checkpointId <= checkpointId) {
      this.#throwIfClosed();
      const { slot } = this.#pending[0] as { slot: number };
      const producer = this.#producers[slot] as TransactionalProducer;
      await producer.commit();
      this.#throwIfNotOwner();
      // A new epoch for the slot's next transaction: (producer id, epoch) then names one transaction only, so a restore
      // of an older checkpoint that still lists this one cannot commit a later transaction of the same id by mistake
      // (it gets INVALID_PRODUCER_EPOCH, i.e. "already ended").
      await producer.init();
      this.#pending.shift();
      this.#context.logger.debug({ checkpoint: checkpointId, slot, epoch: producer.producerEpoch }, 'kafkaSink committed');
    }
  }

  finish(): Promise<void> {
    return this.#inFlight.track(this.#finish());
  }

  async #finish(): Promise<void> {
    // The job's final checkpoint covered every record, so the open transaction is empty; flush surfaces any failure.
    const pipeline = this.#openPipeline();
    await pipeline.flush();
    if (pipeline.written > 0) {
      throw new SluiceError('SLUICE_INTERNAL', `kafkaSink subtask ${this.#context.subtask}: ${pipeline.written} records arrived after the final checkpoint and would never commit`);
    }
  }

  async close(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {
    this.#closed = true;
    const pipeline = this.#pipeline;
    pipeline?.discard();
    this.#pipeline = undefined;
    const open = this.#producers[this.#current];
    const handle = this.#handle;
    this.#handle = undefined;
    if (outcome !== 'finished' && open !== undefined && pipeline !== undefined && pipeline.written > 0 && handle !== undefined) {
      // Abort under this producer's own epoch, not by InitProducerId: the id may belong to someone else by now (a
      // cluster member that lost its job closes its attempt after the new owner took the ids over), and bumping the
      // epoch would abort that holder's transaction, pre-committed output included. First the sends in flight
      // settle: a write arriving after the abort would open a transaction nobody ends. Bounded: close must be prompt.
      const own = { transactionalId: open.transactionalId, producerId: open.producerId, producerEpoch: open.producerEpoch };
      const abort = async (): Promise<void> => {
        await pipeline.settled();
        await abortOwnTransaction(handle, own);
      };
      await withDeadline(this.#inFlight.track(abort()), CLOSE_DEADLINE_MS).catch((err: unknown) =>
        this.#context.logger.warn({ err, transactionalId: open.transactionalId }, `kafkaSink could not abort its open transaction "${open.transactionalId}"; the job's next attempt (or its next owner) fences it, else Kafka aborts it after transactionTimeoutMs`),
      );
    }
    for (const producer of this.#producers) producer.disconnect();
    this.#producers = [];
    if (handle === undefined) return;
    await this.#inFlight.closeAfterSettled(
      () => handle.cluster.disconnect().catch((err: unknown) => this.#context.logger.debug({ err }, 'kafkaSink: disconnect failed')),
      CLOSE_DEADLINE_MS,
      [pipeline?.settled()],
    );
  }

  #openPipeline(): SendPipeline<T> {
    this.#throwIfClosed();
    return this.#pipeline as SendPipeline<T>;
  }

  #throwIfClosed(): void {
    if (this.#closed) throw new SluiceError('SLUICE_CANCELLED', `kafkaSink subtask ${this.#context.subtask} of job "${this.#context.job}" is closed`);
  }

  /**
   * Cluster mode: `InitProducerId` aborts whatever the id's current holder has open, so a member that may have lost the
   * job (its group session ended while it was stopped) must not send it: the new owner holds these ids now.
   */
  #throwIfNotOwner(): void {
    if (this.#context.stillOwner?.() !== false) return;
    throw new SluiceError(
      'SLUICE_CLUSTER_NOT_OWNER',
      `kafkaSink subtask ${this.#context.subtask} of job "${this.#context.job}": this cluster member may no longer own the job (its group session ended), so it does not take its transactional ids over; nothing to do, the job runs on its new owner`,
      { retriable: true },
    );
  }

  #open(slot: number): void {
    const producer = this.#producers[slot] as TransactionalProducer;
    producer.begin();
    this.#current = slot;
    this.#pipeline = new SendPipeline(this.#options, producer.send);
  }
}

const CLOSE_DEADLINE_MS = 5_000;

/** Default transactional id prefix: the job name (documented; set the option when two sinks or jobs would share it). */
/** `sluice-<job>`; a source's dead-letter sink gets `sluice-<job>-dead-letters`, so the two never share an id. */
function defaultPrefix(job: string, role: SinkWriterContext['role']): string {
  return role === 'dead-letters' || role === 'late-records' ? `sluice-${job}-${role}` : `sluice-${job}`;
}

function parseRestored(states: readonly unknown[] | undefined, job: string): ExactlyOnceSinkState[] {
  if (states === undefined) return [];
  return states.map((state) => {
    const s = state as Partial<ExactlyOnceSinkState> | null;
    if (s === null || typeof s !== 'object' || typeof s.subtask !== 'number' || typeof s.parallelism !== 'number' || typeof s.prefix !== 'string' || !Array.isArray(s.transactions)) {
      throw new SluiceError(
        'SLUICE_STATE_INCOMPATIBLE',
        `kafkaSink of job "${job}" cannot read the restored sink state ${JSON.stringify(state)}: it was not written by an exactly-once kafkaSink (did the sink's guarantee or the operator's uid change?)`,
        { retriable: false },
      );
    }
    return s as ExactlyOnceSinkState;
  });
}

async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

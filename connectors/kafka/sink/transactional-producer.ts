import { SluiceError } from '../../../runtime/errors/index.ts';
import {
  createEosManager,
  createTransactionalSend,
  kafkaErrorType,
  type ClusterHandle,
  type InternalEosManager,
} from './kafkajs-internals.ts';
import type { SendFn } from './send-pipeline.ts';

/**
 * One transactional id's producer: kafkajs's own transaction manager and batched send (see kafkajs-internals.ts),
 * plus what the public kafkajs API hides and a checkpoint must record: the producer id and epoch of the open
 * transaction. All producers of a writer share one cluster (one set of broker connections).
 */
export class TransactionalProducer {
  readonly transactionalId: string;
  readonly send: SendFn;
  readonly #eos: InternalEosManager;
  readonly #timeoutMs: number;
  #connected = true;

  constructor(handle: ClusterHandle, transactionalId: string, transactionTimeoutMs: number) {
    this.transactionalId = transactionalId;
    this.#timeoutMs = transactionTimeoutMs;
    this.#eos = createEosManager(handle, transactionalId, transactionTimeoutMs);
    const sendBatch = createTransactionalSend(handle, this.#eos, () => this.#connected);
    this.send = (topicMessages) => sendBatch({ acks: -1, topicMessages });
  }

  get producerId(): string {
    return String(this.#eos.getProducerId());
  }

  get producerEpoch(): number {
    return this.#eos.getProducerEpoch();
  }

  get inTransaction(): boolean {
    return this.#eos.isInTransaction();
  }

  /**
   * `InitProducerId`: takes the id over. Kafka aborts whatever transaction an earlier holder left open and bumps the
   * epoch, so that holder's late writes and commits are rejected (fencing).
   */
  async init(): Promise<void> {
    try {
      await this.#eos.initProducerId();
    } catch (err) {
      if (kafkaErrorType(err) === 'INVALID_TRANSACTION_TIMEOUT') {
        throw new SluiceError(
          'SLUICE_INVALID_OPTION',
          `kafkaSink option "transactionTimeoutMs" ${this.#timeoutMs} is larger than the broker's transaction.max.timeout.ms (15 min by default); lower transactionTimeoutMs or raise the broker setting`,
          { cause: err, retriable: false },
        );
      }
      throw this.#failed('initialise', err);
    }
  }

  begin(): void {
    this.#eos.beginTransaction();
  }

  async commit(): Promise<void> {
    try {
      await this.#eos.commit();
    } catch (err) {
      throw this.#failed('commit', err);
    }
  }

  /** Stops sends on this producer (kafkajs rejects them as disconnected). */
  disconnect(): void {
    this.#connected = false;
  }

  #failed(action: string, err: unknown): SluiceError {
    const type = kafkaErrorType(err);
    const fenced = type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED';
    return new SluiceError(
      'SLUICE_KAFKA_TRANSACTION_FAILED',
      `kafkaSink could not ${action} transaction "${this.transactionalId}": ${(err as Error)?.message ?? String(err)}${
        fenced
          ? '; another producer took this transactional id over (a newer attempt of this job, or another job with the same transactionalIdPrefix)'
          : ''
      }`,
      { cause: err, retriable: !fenced },
    );
  }
}

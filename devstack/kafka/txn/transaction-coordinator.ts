import type { Clock, TimerHandle } from '../../../runtime/time/index.ts';
import type { GroupCoordinator } from '../groups/group-coordinator.ts';
import type { TopicStore } from '../log/topic-store.ts';
import type { AddPartitionsToTxnRequest, AddPartitionsToTxnResponse } from '../protocol/add-partitions-to-txn-v0-1.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { InitProducerIdResponse } from '../protocol/init-producer-id-v0-1.ts';

/**
 * Transaction coordinator (KIP-98), single node. Per transactional id: producer id, epoch, state and the partitions
 * and groups the open transaction touched. States follow Kafka's `TransactionState`:
 *
 *   Empty --AddPartitions/AddOffsets--> Ongoing --EndTxn(commit)--> CompleteCommit
 *                                               --EndTxn(abort) / timeout / InitProducerId--> CompleteAbort
 *   Complete* --AddPartitions/AddOffsets--> Ongoing
 *
 * Kafka passes through PrepareCommit/PrepareAbort while markers are written asynchronously; here markers are
 * appended synchronously, so those states are never observable and CONCURRENT_TRANSACTIONS is never needed.
 * A transaction that stays open longer than its timeout is aborted and its epoch bumped, fencing the producer.
 */
export type TxnState = 'Empty' | 'Ongoing' | 'CompleteCommit' | 'CompleteAbort';

export interface TxnSnapshot {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  partitions: [string, number][];
  groups: string[];
}

export interface TransactionCoordinatorState {
  nextProducerId: number;
  transactions: TxnSnapshot[];
}

interface TxnMetadata extends TxnSnapshot {
  timer: TimerHandle | undefined;
}

export interface TransactionCoordinatorOptions {
  clock: Clock;
  topics: TopicStore;
  groups: GroupCoordinator;
  /** transaction.max.timeout.ms */
  maxTimeoutMs: number;
  onChange(): void;
}

const MAX_EPOCH = 32767;

export class TransactionCoordinator {
  readonly #txns = new Map<string, TxnMetadata>();
  #nextProducerId = 1000;
  readonly #opts: TransactionCoordinatorOptions;

  constructor(opts: TransactionCoordinatorOptions) {
    this.#opts = opts;
  }

  initProducerId(transactionalId: string | null, timeoutMs: number): InitProducerIdResponse {
    if (transactionalId === null) {
      const producerId = this.#nextProducerId++;
      this.#opts.onChange();
      return { errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
    }
    if (transactionalId === '') return { errorCode: ErrorCode.INVALID_REQUEST, producerId: -1, producerEpoch: -1 };
    if (timeoutMs <= 0 || timeoutMs > this.#opts.maxTimeoutMs) {
      return { errorCode: ErrorCode.INVALID_TRANSACTION_TIMEOUT, producerId: -1, producerEpoch: -1 };
    }
    let txn = this.#txns.get(transactionalId);
    if (txn === undefined) {
      txn = {
        transactionalId,
        producerId: this.#nextProducerId++,
        producerEpoch: 0,
        timeoutMs,
        state: 'Empty',
        partitions: [],
        groups: [],
        timer: undefined,
      };
      this.#txns.set(transactionalId, txn);
    } else {
      // A new producer instance with the same transactional id fences the old one: bump the epoch, and abort what
      // the old one left open with the new epoch so its late writes are rejected.
      this.#bumpEpoch(txn);
      if (txn.state === 'Ongoing') this.#complete(txn, false);
      txn.timeoutMs = timeoutMs;
      txn.state = 'Empty';
    }
    this.#opts.onChange();
    return { errorCode: ErrorCode.NONE, producerId: txn.producerId, producerEpoch: txn.producerEpoch };
  }

  addPartitions(req: AddPartitionsToTxnRequest): AddPartitionsToTxnResponse {
    const all = (errorCode: number): AddPartitionsToTxnResponse => ({
      topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((partition) => ({ partition, errorCode })) })),
    });
    const txn = this.#txns.get(req.transactionalId);
    const check = this.#checkProducer(txn, req.producerId, req.producerEpoch);
    if (check !== ErrorCode.NONE || txn === undefined) return all(check);
    const unknown = req.topics.some((t) => t.partitions.some((p) => this.#opts.topics.partition(t.name, p) === undefined));
    if (unknown) {
      return {
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((partition) => ({
            partition,
            errorCode:
              this.#opts.topics.partition(t.name, partition) === undefined
                ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
                : ErrorCode.OPERATION_NOT_ATTEMPTED,
          })),
        })),
      };
    }
    this.#begin(txn);
    for (const t of req.topics) {
      for (const p of t.partitions) {
        if (!txn.partitions.some(([n, q]) => n === t.name && q === p)) txn.partitions.push([t.name, p]);
      }
    }
    this.#opts.onChange();
    return all(ErrorCode.NONE);
  }

  addOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string): number {
    const txn = this.#txns.get(transactionalId);
    const check = this.#checkProducer(txn, producerId, producerEpoch);
    if (check !== ErrorCode.NONE || txn === undefined) return check;
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    this.#begin(txn);
    if (!txn.groups.includes(groupId)) txn.groups.push(groupId);
    this.#opts.onChange();
    return ErrorCode.NONE;
  }

  /** TxnOffsetCommit is validated against the transaction's producer before the group stores the offsets. */
  checkTxnOffsetCommit(transactionalId: string, producerId: number, producerEpoch: number): number {
    return this.#checkProducer(this.#txns.get(transactionalId), producerId, producerEpoch);
  }

  endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): number {
    const txn = this.#txns.get(transactionalId);
    const check = this.#checkProducer(txn, producerId, producerEpoch);
    if (check !== ErrorCode.NONE || txn === undefined) return check;
    switch (txn.state) {
      case 'Ongoing':
        this.#complete(txn, commit);
        this.#opts.onChange();
        return ErrorCode.NONE;
      case 'CompleteCommit':
        return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
      case 'CompleteAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      case 'Empty':
        return ErrorCode.INVALID_TXN_STATE;
    }
  }

  #checkProducer(txn: TxnMetadata | undefined, producerId: number, producerEpoch: number): number {
    if (txn === undefined || txn.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (txn.producerEpoch !== producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    return ErrorCode.NONE;
  }

  #begin(txn: TxnMetadata): void {
    if (txn.state === 'Ongoing') return;
    txn.state = 'Ongoing';
    txn.partitions = [];
    txn.groups = [];
    this.#armTimeout(txn);
  }

  #armTimeout(txn: TxnMetadata): void {
    const clock = this.#opts.clock;
    if (txn.timer !== undefined) clock.clearTimeout(txn.timer);
    txn.timer = clock.setTimeout(() => {
      txn.timer = undefined;
      if (txn.state !== 'Ongoing') return;
      // Kafka aborts timed-out transactions with a bumped epoch, so the producer gets INVALID_PRODUCER_EPOCH.
      this.#bumpEpoch(txn);
      this.#complete(txn, false);
      this.#opts.onChange();
    }, txn.timeoutMs);
  }

  #bumpEpoch(txn: TxnMetadata): void {
    if (txn.producerEpoch >= MAX_EPOCH - 1) {
      txn.producerId = this.#nextProducerId++;
      txn.producerEpoch = 0;
    } else {
      txn.producerEpoch++;
    }
  }

  /** Writes the markers, settles the group offsets and closes the transaction. */
  #complete(txn: TxnMetadata, commit: boolean): void {
    if (txn.timer !== undefined) this.#opts.clock.clearTimeout(txn.timer);
    txn.timer = undefined;
    const now = this.#opts.clock.now();
    for (const [topic, partition] of txn.partitions) {
      this.#opts.topics.partition(topic, partition)?.appendMarker(txn.producerId, txn.producerEpoch, commit, now);
    }
    for (const groupId of txn.groups) this.#opts.groups.completeTxnOffsets(groupId, txn.producerId, commit);
    txn.partitions = [];
    txn.groups = [];
    txn.state = commit ? 'CompleteCommit' : 'CompleteAbort';
  }

  snapshot(): TransactionCoordinatorState {
    return {
      nextProducerId: this.#nextProducerId,
      transactions: [...this.#txns.values()].map(({ timer: _timer, ...rest }) => ({
        ...rest,
        partitions: rest.partitions.map(([t, p]): [string, number] => [t, p]),
        groups: [...rest.groups],
      })),
    };
  }

  restore(state: TransactionCoordinatorState): void {
    this.#nextProducerId = Math.max(this.#nextProducerId, state.nextProducerId);
    for (const s of state.transactions) {
      const txn: TxnMetadata = { ...s, timer: undefined };
      this.#txns.set(s.transactionalId, txn);
      if (txn.state === 'Ongoing') this.#armTimeout(txn);
    }
  }

  close(): void {
    for (const txn of this.#txns.values()) {
      if (txn.timer !== undefined) this.#opts.clock.clearTimeout(txn.timer);
      txn.timer = undefined;
    }
  }
}

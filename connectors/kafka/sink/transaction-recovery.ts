import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../runtime/logging/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import { createEosManager, kafkaErrorType, TRANSACTION_COORDINATOR, type ClusterHandle } from './kafkajs-internals.ts';

/** A transaction pre-committed at a barrier, as a checkpoint records it. */
export interface PreCommittedTransaction {
  readonly transactionalId: string;
  /** int64, as kafkajs reads it (a decimal string). */
  readonly producerId: string;
  readonly producerEpoch: number;
  readonly checkpointId: number;
  /** Clock time of the pre-commit, to tell a late restore from a repeated one. */
  readonly preCommittedAt: number;
}

/** Errors that mean "ask again shortly": the coordinator is moving, loading, or still writing markers. */
const RETRIABLE = new Set(['CONCURRENT_TRANSACTIONS', 'COORDINATOR_LOAD_IN_PROGRESS', 'COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR', 'NOT_COORDINATOR_FOR_GROUP', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'GROUP_LOAD_IN_PROGRESS']);
/**
 * Errors that mean the transaction is no longer open under that producer id/epoch (Kafka's
 * TransactionCoordinator.handleEndTransaction): the epoch moved on (`INVALID_PRODUCER_EPOCH`, `PRODUCER_FENCED`
 * since Kafka 2.7) because an earlier restore already committed it and re-initialised the id, or Kafka aborted it
 * after transaction.timeout.ms; the id expired (`INVALID_PRODUCER_ID_MAPPING`); or it is in a state a commit cannot
 * follow (`INVALID_TXN_STATE`). An already committed transaction with the same epoch answers `NONE`.
 */
const ALREADY_ENDED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING', 'INVALID_TXN_STATE']);
const MAX_ATTEMPTS = 30;

/**
 * Commits a transaction pre-committed by an earlier attempt: `EndTxn(commit)` with the *recorded* producer id and
 * epoch, sent straight to the transaction coordinator. This must happen before anything calls `InitProducerId` on the
 * id, which would abort the transaction. Committing twice is harmless (Kafka answers `NONE` for a completed commit
 * with the same epoch); a transaction that already ended otherwise is logged, at error level when the restore came
 * later than the transaction timeout (Kafka has then aborted it: those records are lost, see the transaction timeout
 * rule in docs/connectors/kafka-sink.md).
 */
export async function commitRestoredTransaction(
  handle: ClusterHandle,
  txn: PreCommittedTransaction,
  context: { logger: Logger; now: number; transactionTimeoutMs: number },
): Promise<'committed' | 'already-ended'> {
  const { transactionalId } = txn;
  let ended: string | undefined;
  try {
    ended = await endTransaction(handle, txn, 'commit', 2_000);
  } catch (err) {
    throw new SluiceError(
      'SLUICE_KAFKA_TRANSACTION_FAILED',
      `kafkaSink could not commit transaction "${transactionalId}" of restored checkpoint ${txn.checkpointId}: ${(err as Error)?.message ?? String(err)}`,
      { cause: err, retriable: true },
    );
  }
  if (ended === undefined) {
    context.logger.info({ transactionalId, checkpoint: txn.checkpointId }, `kafkaSink committed transaction ${transactionalId} of restored checkpoint ${txn.checkpointId}`);
    return 'committed';
  }
  const age = context.now - txn.preCommittedAt;
  if (age > context.transactionTimeoutMs) {
    context.logger.error(
      { transactionalId, checkpoint: txn.checkpointId, error: ended, ageMs: age },
      `kafkaSink: transaction ${transactionalId} of checkpoint ${txn.checkpointId} can no longer be committed (${ended}) and was pre-committed ${age} ms ago, more than transactionTimeoutMs ${context.transactionTimeoutMs}: Kafka has most likely aborted it and its records are lost; raise transactionTimeoutMs`,
    );
  } else {
    context.logger.info({ transactionalId, checkpoint: txn.checkpointId, error: ended }, `kafkaSink: transaction ${transactionalId} of checkpoint ${txn.checkpointId} was already committed by an earlier restore`);
  }
  return 'already-ended';
}

/**
 * `EndTxn` with the given producer id and epoch, sent straight to the transaction coordinator, retried while the
 * coordinator moves or is busy. Resolves `undefined` once done, or the error type that says the transaction is no
 * longer open under that id and epoch ({@link ALREADY_ENDED}); throws anything else.
 */
async function endTransaction(handle: ClusterHandle, txn: Pick<PreCommittedTransaction, 'transactionalId' | 'producerId' | 'producerEpoch'>, result: 'commit' | 'abort', maxBackoffMs: number): Promise<string | undefined> {
  const { transactionalId, producerId, producerEpoch } = txn;
  for (let attempt = 1; ; attempt++) {
    try {
      const coordinator = await handle.cluster.findGroupCoordinator({ groupId: transactionalId, coordinatorType: TRANSACTION_COORDINATOR });
      await coordinator.endTxn({ transactionalId, producerId: producerId as unknown as number, producerEpoch, transactionResult: result === 'commit' });
      return undefined;
    } catch (err) {
      const type = kafkaErrorType(err);
      if (type !== undefined && ALREADY_ENDED.has(type)) return type;
      if ((type === undefined || RETRIABLE.has(type) || (err as { retriable?: boolean }).retriable === true) && attempt < MAX_ATTEMPTS) {
        await sleep(Math.min(50 * 2 ** attempt, maxBackoffMs));
        continue;
      }
      throw err;
    }
  }
}

/**
 * Fences `transactionalId`: `InitProducerId` aborts whatever transaction it has open (so read_committed consumers are
 * no longer held back by it) and bumps its epoch (so a zombie holder's writes are rejected).
 */
export async function fenceTransactionalId(handle: ClusterHandle, transactionalId: string, transactionTimeoutMs: number): Promise<void> {
  try {
    await createEosManager(handle, transactionalId, transactionTimeoutMs).initProducerId();
  } catch (err) {
    throw new SluiceError(
      'SLUICE_KAFKA_TRANSACTION_FAILED',
      `kafkaSink could not abort leftover transactions of "${transactionalId}": ${(err as Error)?.message ?? String(err)}`,
      { cause: err, retriable: true },
    );
  }
}

/**
 * Aborts the open transaction of one producer under the producer id and epoch it was opened with: `EndTxn(abort)`
 * sent to the transaction coordinator. Unlike {@link fenceTransactionalId} it cannot touch a later holder of the id:
 * when another producer has initialised the id since (a newer attempt, or the job's new owner after this cluster
 * member lost it), Kafka refuses the old epoch and nothing changes — where `InitProducerId` would abort that holder's
 * transaction, pre-committed output included. Call it once no send of the transaction is in flight: a write arriving
 * after the abort would open a transaction nobody ends.
 */
export async function abortOwnTransaction(
  handle: ClusterHandle,
  txn: Pick<PreCommittedTransaction, 'transactionalId' | 'producerId' | 'producerEpoch'>,
): Promise<'aborted' | 'not-open'> {
  try {
    // Not open: taken over by a later holder, aborted by Kafka after its timeout, or never opened (nothing sent).
    return (await endTransaction(handle, txn, 'abort', 1_000)) === undefined ? 'aborted' : 'not-open';
  } catch (err) {
    throw new SluiceError('SLUICE_KAFKA_TRANSACTION_FAILED', `kafkaSink could not abort transaction "${txn.transactionalId}": ${(err as Error)?.message ?? String(err)}`, { cause: err, retriable: true });
  }
}

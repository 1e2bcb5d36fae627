import type { CheckpointTiming } from '../../../runtime/api/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';

/**
 * Fails when a transaction could be aborted by Kafka before a restored attempt commits it.
 *
 * A transaction opens with the first record after barrier `n-1` and is pre-committed at barrier `n` (about one
 * interval later); checkpoint `n` may take up to the checkpoint timeout to complete; if the attempt then dies before
 * committing, the restart strategy waits up to its longest delay before the next attempt re-commits it. Kafka must
 * not time the transaction out in that window, so `transactionTimeoutMs ≥ interval + checkpoint timeout + restart
 * delay` (Flink's rule: "transaction timeout > maximum checkpoint duration + maximum restart duration").
 *
 * @example
 * ```ts
 * checkTransactionTimeout(15 * 60_000, { intervalMs: 10_000, timeoutMs: 600_000, maxRestartDelayMs: 60_000 }, 'orders');
 * ```
 */
export function checkTransactionTimeout(transactionTimeoutMs: number, timing: CheckpointTiming, job: string): void {
  const needed = timing.intervalMs + timing.timeoutMs + timing.maxRestartDelayMs;
  if (transactionTimeoutMs >= needed) return;
  throw new SluiceError(
    'SLUICE_INVALID_OPTION',
    `kafkaSink of job "${job}": transactionTimeoutMs ${transactionTimeoutMs} cannot cover checkpoint interval ${timing.intervalMs} ms + checkpoint timeout ${timing.timeoutMs} ms + restart delay up to ${timing.maxRestartDelayMs} ms = ${needed} ms; Kafka could abort a pre-committed transaction before a restore commits it (data loss). Raise transactionTimeoutMs to at least ${needed} (and the broker's transaction.max.timeout.ms with it), or lower checkpoints.timeoutMs / the restart delay`,
    { retriable: false },
  );
}

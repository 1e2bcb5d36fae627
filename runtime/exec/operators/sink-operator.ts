import type { ConnectorMetric, SinkWriter } from '../../api/index.ts';
import { packValue } from '../../serde/index.ts';
import { ChainedOperator, type OperatorPlace, type OperatorSnapshot } from './chained-operator.ts';

/**
 * The end of a chain: hands batches to the sink's writer and drives its two-phase protocol (`preCommit` on the
 * barrier, its result stored as this subtask's operator state; `commit` on checkpoint completion).
 */
export class SinkOperator<T> extends ChainedOperator<T> {
  readonly #writer: SinkWriter<T>;

  constructor(place: OperatorPlace, writer: SinkWriter<T>) {
    super(place);
    this.#writer = writer;
  }

  override async open(): Promise<void> {
    try {
      await this.#writer.start();
    } catch (err) {
      throw this.fail(err, 'failed to start');
    }
  }

  process(records: readonly T[]): Promise<void> | undefined {
    let pending: void | Promise<void>;
    try {
      pending = this.#writer.write(records);
    } catch (err) {
      throw this.fail(err);
    }
    return pending === undefined ? undefined : pending.catch((err: unknown) => Promise.reject(this.fail(err)));
  }

  override async snapshot(checkpointId: number): Promise<OperatorSnapshot> {
    try {
      const state = await this.#writer.preCommit(checkpointId);
      return state === undefined ? {} : { operator: packValue(state) };
    } catch (err) {
      throw this.fail(err, `failed to pre-commit checkpoint ${checkpointId}`);
    }
  }

  override async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    try {
      await this.#writer.commit(checkpointId);
    } catch (err) {
      throw this.fail(err, `failed to commit checkpoint ${checkpointId}`);
    }
  }

  override async finish(): Promise<void> {
    try {
      await this.#writer.finish();
    } catch (err) {
      throw this.fail(err, 'failed to finish');
    }
  }

  override async close(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {
    await this.#writer.close(outcome);
  }

  override operatorMetrics(): readonly ConnectorMetric[] | undefined {
    return this.#writer.metrics?.();
  }
}

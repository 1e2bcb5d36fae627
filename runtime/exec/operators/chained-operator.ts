import type { ConnectorMetric } from '../../api/index.ts';
import type { SubtaskMetrics } from '../subtask-metrics.ts';
import { SluiceError, isSluiceError } from '../../errors/index.ts';

/** The next link of a chain: an operator, a sink, or the stage's output channels. */
export interface Downstream<T> {
  /**
   * Returns a promise only when the downstream must be awaited (a full channel, an async sink write). `timestamps`
   * holds each record's event time when the stream has event time (same length as `records`), else it is absent.
   */
  process(records: readonly T[], timestamps?: readonly number[]): Promise<void> | undefined;
  /** Event time reached `watermark` (never lower than the last one): fire what is due, then pass it on. */
  processWatermark(watermark: number): Promise<void> | undefined;
}

/** State an operator subtask contributes to a checkpoint. */
export interface OperatorSnapshot {
  /** Keyed state, one blob per non-empty key group. */
  keyed?: Map<number, Uint8Array>;
  /** Operator (non-keyed) state of this subtask, e.g. a sink's pending transactions. */
  operator?: Uint8Array;
}

/** Where an operator subtask runs: for error messages and logs. */
export interface OperatorPlace {
  readonly job: string;
  readonly uid: string;
  readonly subtask: number;
  readonly parallelism: number;
  /** The counters of the subtask the operator runs in (status and metrics read them); absent in bare harnesses. */
  readonly metrics?: SubtaskMetrics | undefined;
}

/**
 * One operator of a chain in one subtask. Records go in through `process`; everything else is lifecycle and the
 * checkpoint protocol. The defaults suit a stateless operator.
 */
export abstract class ChainedOperator<I> implements Downstream<I> {
  readonly place: OperatorPlace;
  /** Where this operator's output goes; undefined for a sink, the end of a chain. */
  readonly #downstream: Downstream<unknown> | undefined;

  constructor(place: OperatorPlace, downstream?: Downstream<unknown>) {
    this.place = place;
    this.#downstream = downstream;
  }

  abstract process(records: readonly I[], timestamps?: readonly number[]): Promise<void> | undefined;

  /** By default a watermark passes through; operators with event-time timers fire them first. */
  processWatermark(watermark: number): Promise<void> | undefined {
    return this.#downstream?.processWatermark(watermark);
  }

  async open(): Promise<void> {}

  /** On an aligned barrier: the state to store in checkpoint `checkpointId`, if any. */
  async snapshot(_checkpointId: number): Promise<OperatorSnapshot | undefined> {
    return undefined;
  }

  async notifyCheckpointComplete(_checkpointId: number): Promise<void> {}

  /** The earliest pending timer, if the operator has timers. */
  nextTimer(): number | undefined {
    return undefined;
  }

  /** Fires timers due at `now`. */
  fireTimers(_now: number): Promise<void> | undefined {
    return undefined;
  }

  /** End of input: flush what is buffered. */
  async finish(): Promise<void> {}

  async close(_outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {}

  /** What the operator's connector measured (a sink's writer), for Prometheus; undefined for other operators. */
  connectorMetrics(): readonly ConnectorMetric[] | undefined {
    return undefined;
  }

  /**
   * Wraps an error thrown by user code or a connector so the failure names the operator and subtask. A plain error
   * (a throwing map function) is retriable, as Flink restarts on user exceptions: a replay may succeed. A
   * SluiceError keeps its own verdict: a sink's bad record or bad option stays fatal (runtime/failover).
   */
  fail(err: unknown, what = 'failed'): SluiceError {
    if (isSluiceError(err, 'SLUICE_OPERATOR_FAILED')) return err;
    const { job, uid, subtask, parallelism } = this.place;
    const reason = err instanceof Error ? err.message : String(err);
    const retriable = isSluiceError(err) ? err.retriable : true;
    return new SluiceError(
      'SLUICE_OPERATOR_FAILED',
      `operator "${uid}" (subtask ${subtask + 1}/${parallelism}) of job "${job}" ${what}: ${reason}`,
      retriable === undefined ? { cause: err } : { cause: err, retriable },
    );
  }
}

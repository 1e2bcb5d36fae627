import { ERROR_OUTPUT, type ConnectorMetric, type ErrorPolicy, type FailedRecord } from '../../api/index.ts';
import type { Logger } from '../../logging/index.ts';
import type { IncrementalParts } from '../../state/index.ts';
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
  /** Keyed state, one full blob per key group (all non-empty ones, unless the snapshot is incremental). */
  keyed?: Map<number, Uint8Array>;
  /** An incremental snapshot's deltas and unchanged key groups, relative to its parent checkpoint. */
  incremental?: IncrementalParts;
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
  /** The operator's `onError` policy; absent: fail. */
  readonly onError?: ErrorPolicy | undefined;
  /** Where skipped records and dropped late records are reported; absent in bare harnesses. */
  readonly logger?: Logger | undefined;
  /**
   * Emits a record to a side output (or, as `ERROR_OUTPUT`, the error output) of this operator; present when the
   * operator ends its stage and some stage reads one of its side outputs.
   */
  readonly sideOutput?: ((name: string, value: unknown, timestamp: number | undefined) => void) | undefined;
}

/** Skipped records logged one by one per operator subtask; after that, one line per {@link SKIP_LOG_EVERY}. */
const SKIPS_LOGGED_IN_FULL = 10;
const SKIP_LOG_EVERY = 1_000;

/**
 * One operator of a chain in one subtask. Records go in through `process`; everything else is lifecycle and the
 * checkpoint protocol. The defaults suit a stateless operator.
 */
export abstract class ChainedOperator<I> implements Downstream<I> {
  readonly place: OperatorPlace;
  /** Where this operator's output goes; undefined for a sink, the end of a chain. */
  readonly #downstream: Downstream<unknown> | undefined;
  /** Records this operator subtask skipped (onError 'skip'), for the rate of its log lines. */
  #skipped = 0;

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

  /** Resolves when the operator can take more input; `undefined` when it can now (see `KeyedStateBackend.backpressure`). */
  inputReady(): Promise<void> | undefined {
    return undefined;
  }

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

  /**
   * What the operator measures beyond the subtask's counters, for Prometheus: a sink's writer's connector metrics, a
   * keyed operator's state backend. Undefined for operators without any.
   */
  operatorMetrics(): readonly ConnectorMetric[] | undefined {
    return undefined;
  }

  /**
   * The operator's function threw on `record`. Under `onError('skip')` the record is dropped: counted in the
   * subtask's `recordsSkipped`, logged with where it came from, and the caller goes on with the next record. Under
   * `onError('output')` it goes to the operator's error output with its error instead, and the caller goes on.
   * Otherwise, and for errors no retry can fix, this throws the operator's failure. `skip` skips whatever the
   * policy (an asyncMap record that timed out under `onTimeout: 'skip'`).
   */
  skipOrFail(err: unknown, record: unknown, skip = this.place.onError === 'skip'): void {
    const failure = this.fail(err);
    if (!skip && this.place.onError === 'output' && failure.retriable !== false && this.place.sideOutput !== undefined) {
      this.place.sideOutput(ERROR_OUTPUT, failedRecord(record, this.place.uid, err), undefined);
      return;
    }
    if (!skip || failure.retriable === false) throw failure;
    const skipped = (this.#skipped += 1);
    if (this.place.metrics !== undefined) this.place.metrics.recordsSkipped += 1;
    if (skipped <= SKIPS_LOGGED_IN_FULL || skipped % SKIP_LOG_EVERY === 0) {
      this.place.logger?.warn(
        { operator: this.place.uid, subtask: this.place.subtask, skipped, origin: recordOrigin(record), err: (err as Error)?.message ?? String(err) },
        `operator "${this.place.uid}" skipped a record its function threw on (onError 'skip'; ${skipped} so far in this subtask${skipped === SKIPS_LOGGED_IN_FULL ? `, from now on logged once every ${SKIP_LOG_EVERY}` : ''})`,
      );
    }
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

/** The error output's record for `record`, which the function of operator `operator` threw `err` on. */
function failedRecord(record: unknown, operator: string, err: unknown): FailedRecord<unknown> {
  const error = err instanceof Error ? err : new Error(String(err));
  const code = isSluiceError(err) ? err.code : (err as { code?: unknown } | undefined)?.code;
  return { record, operator, error: { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) } };
}

/**
 * Where a skipped record came from, for its log line: a Kafka record's topic, partition and offset (fields any
 * record may carry through a map), else the start of its JSON.
 */
function recordOrigin(record: unknown): Record<string, unknown> {
  if (typeof record === 'object' && record !== null) {
    const r = record as { topic?: unknown; partition?: unknown; offset?: unknown };
    if (typeof r.topic === 'string' && typeof r.partition === 'number' && (typeof r.offset === 'string' || typeof r.offset === 'number' || typeof r.offset === 'bigint')) {
      return { topic: r.topic, partition: r.partition, offset: String(r.offset) };
    }
  }
  let preview: string;
  try {
    preview = JSON.stringify(record) ?? String(record);
  } catch {
    preview = String(record);
  }
  return { record: preview.length > 200 ? `${preview.slice(0, 200)}…` : preview };
}

/** A batch without the records at `skipped` (indexes of records an operator skipped), timestamps kept in step. */
export function withoutSkipped<T>(records: readonly T[], timestamps: readonly number[] | undefined, skipped: readonly number[]): { records: T[]; timestamps: number[] | undefined } {
  const gone = new Set(skipped);
  const keep = (_: unknown, i: number): boolean => !gone.has(i);
  return { records: records.filter(keep), timestamps: timestamps?.filter(keep) };
}

/**
 * `ctx.output(name, value)` of a process function: the record goes to the operator's side output `name`. Fails the
 * job (no retry helps) when nothing reads it, which only an undeclared name can cause: the plan rejects declared
 * outputs nobody reads.
 */
export function emitToSideOutput(place: OperatorPlace, name: string, value: unknown, timestamp: number | undefined): void {
  if (place.sideOutput === undefined) {
    throw new SluiceError(
      'SLUICE_UNDECLARED_OUTPUT',
      `operator "${place.uid}" emitted to side output ${JSON.stringify(name)}, which it does not declare: add it to the function's outputs (outputs: { ${name}: sideOutput<T>() }) and read it with .sideOutput(${JSON.stringify(name)})`,
      { retriable: false },
    );
  }
  place.sideOutput(name, value, timestamp);
}

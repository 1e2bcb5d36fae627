import type { ConnectorMetric, KeySelector } from '../../api/index.ts';
import { packValue } from '../../serde/index.ts';
import { HeapKeyedStateBackend, keyGroupRangeOf, type KeyedChains, type KeyedStateBackend, type KeyGroupRange } from '../../state/index.ts';
import { LevelDbKeyedStateBackend } from '../../state/leveldb/leveldb-keyed-state-backend.ts';
import { ChainedOperator, type Downstream, type OperatorPlace, type OperatorSnapshot } from './chained-operator.ts';
import { keyedStateMetricSamples } from './keyed-state-metric-samples.ts';
import { openEnvelopes, sealEnvelope } from './operator-state-envelope.ts';

/** How often a dropped late record is logged (the first one always is). */
const LATE_LOG_EVERY = 10_000;

/** Where a keyed operator subtask's state comes from and how big the key space is. */
export interface KeyedSetup {
  readonly keySelector: KeySelector;
  readonly maxParallelism: number;
  /** Key groups from the restored checkpoint for this operator's uid (all old subtasks); the backend keeps its own. */
  readonly restored: KeyedChains | undefined;
  /** The checkpoint `restored` comes from. */
  readonly restoredFrom?: number | undefined;
  /** Operator state of every old subtask of this operator's uid, from the restored checkpoint (see operator-state-envelope.ts). */
  readonly restoredOperatorState?: readonly unknown[] | undefined;
  /** Snapshot incrementally (`checkpoints.incremental`). */
  readonly incremental?: boolean | undefined;
  /** Incremental: leave rebasing long chains to the checkpoint coordinator (`delegateRebase` of either backend). */
  readonly delegateRebase?: boolean | undefined;
  /** Keep state in LevelDB (`state.backend: 'leveldb'`); absent: in the heap. */
  readonly leveldb?: { readonly cacheBytes?: number; readonly directory?: string; readonly maxOpenFiles?: number } | undefined;
}

/**
 * Base of keyed operators: owns the state backend (heap or LevelDB) for the subtask's key-group range, restores it on
 * open, snapshots it per key group on barriers and closes it with the subtask. It also keeps the operator's
 * watermark, which is checkpointed with the operator's own operator state and restored with it, so event time does
 * not go back after a failover (operator-state-envelope.ts says why).
 */
export abstract class KeyedOperator<I> extends ChainedOperator<I> {
  protected readonly backend: KeyedStateBackend;
  protected readonly keyOf: (value: I) => string | number;
  /** The operator's own operator state of every old subtask that stored some, from the restored checkpoint. */
  protected readonly restoredOwnState: readonly unknown[] | undefined;
  #restored: KeyedChains | undefined;
  readonly #restoredFrom: number | undefined;
  readonly #range: KeyGroupRange;
  #watermark: number;
  /** The last finite watermark (the end of input's is not one to restore): what a checkpoint stores. */
  #checkpointedWatermark: number | undefined;
  /** Late records this subtask dropped (sent nowhere). */
  #lateDropped = 0;

  constructor(place: OperatorPlace, setup: KeyedSetup, downstream: Downstream<unknown>) {
    super(place, downstream);
    this.keyOf = setup.keySelector as (value: I) => string | number;
    this.#range = keyGroupRangeOf(place.subtask, place.parallelism, setup.maxParallelism);
    const options = { maxParallelism: setup.maxParallelism, range: this.#range, incremental: setup.incremental === true };
    this.backend =
      setup.leveldb === undefined
        ? new HeapKeyedStateBackend({ ...options, delegateRebase: setup.delegateRebase === true })
        : new LevelDbKeyedStateBackend({ ...options, ...setup.leveldb, delegateRebase: setup.delegateRebase === true });
    this.#restored = setup.restored;
    this.#restoredFrom = setup.restoredFrom;
    const opened = openEnvelopes(setup.restoredOperatorState, this.#range);
    this.restoredOwnState = opened.states;
    this.#watermark = opened.watermark;
    this.#checkpointedWatermark = Number.isFinite(opened.watermark) ? opened.watermark : undefined;
  }

  /** The operator's watermark: the highest its inputs have reached (their minimum), or the restored one. */
  protected get watermark(): number {
    return this.#watermark;
  }

  /** Moves the watermark to `watermark` and returns true; returns false, changing nothing, unless it is higher. */
  protected advanceWatermark(watermark: number): boolean {
    if (watermark <= this.#watermark) return false;
    this.#watermark = watermark;
    if (Number.isFinite(watermark)) this.#checkpointedWatermark = watermark;
    return true;
  }

  /**
   * A record at `timestamp` came too late and goes nowhere (a window's past its allowed lateness, a join's whose late
   * records are not read): counted in the subtask's `lateRecordsDropped` (status, metrics) and logged at the first and
   * every {@link LATE_LOG_EVERY}th. `why` ends the log line's first clause.
   */
  protected dropLate(timestamp: number, why: string): void {
    const dropped = ++this.#lateDropped;
    if (this.place.metrics !== undefined) this.place.metrics.lateRecordsDropped++;
    if (dropped === 1 || dropped % LATE_LOG_EVERY === 0) {
      this.place.logger?.warn(
        { operator: this.place.uid, lateRecordsDropped: dropped, timestamp, watermark: this.#watermark },
        `operator "${this.place.uid}" dropped a record ${this.#watermark - timestamp} ms behind the watermark, ${why}; ${dropped} dropped so far`,
      );
    }
  }

  override async open(): Promise<void> {
    // The backend reads only this subtask's key groups from the map, one chain at a time (a checkpoint's chains are
    // read from the store and concatenated when asked for), and lets each go once restored. Restored from a
    // checkpoint without state for this operator: the backend's chains start empty, from it.
    const restored = this.#restored;
    this.#restored = undefined;
    await this.backend.restore(restored ?? [], this.#restoredFrom);
  }

  /** Keyed state by key group, then the operator's own state and its watermark as operator state. */
  override async snapshot(checkpointId?: number): Promise<OperatorSnapshot> {
    const snapshot = await this.backend.snapshot(checkpointId);
    const keyed: OperatorSnapshot = snapshot.incremental === undefined ? { keyed: snapshot.keyGroups } : { keyed: snapshot.keyGroups, incremental: snapshot.incremental };
    const envelope = sealEnvelope(await this.snapshotOwnState(checkpointId), this.#checkpointedWatermark, this.#range);
    return envelope === undefined ? keyed : { ...keyed, operator: packValue(envelope) };
  }

  /** The operator state of this subtask besides its watermark (a sink's transaction, broadcast state), if any. */
  protected async snapshotOwnState(_checkpointId: number | undefined): Promise<unknown> {
    return undefined;
  }

  override inputReady(): Promise<void> | undefined {
    return this.backend.backpressure();
  }

  /** Subclasses that override close must call this: it removes the LevelDB backend's working database. */
  override async close(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {
    await super.close(outcome);
    await this.backend.close();
  }

  /** The state backend's size and cache (`sluice_state_*`). */
  override operatorMetrics(): readonly ConnectorMetric[] {
    return keyedStateMetricSamples(this.backend.metrics());
  }

  override nextTimer(): number | undefined {
    return this.backend.nextTimerTimestamp();
  }
}

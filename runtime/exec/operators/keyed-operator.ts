import type { ConnectorMetric, KeySelector } from '../../api/index.ts';
import { HeapKeyedStateBackend, keyGroupRangeOf, type KeyedChains, type KeyedStateBackend } from '../../state/index.ts';
import { LevelDbKeyedStateBackend } from '../../state/leveldb/leveldb-keyed-state-backend.ts';
import { ChainedOperator, type Downstream, type OperatorPlace, type OperatorSnapshot } from './chained-operator.ts';
import { keyedStateMetricSamples } from './keyed-state-metric-samples.ts';

/** Where a keyed operator subtask's state comes from and how big the key space is. */
export interface KeyedSetup {
  readonly keySelector: KeySelector;
  readonly maxParallelism: number;
  /** Key groups from the restored checkpoint for this operator's uid (all old subtasks); the backend keeps its own. */
  readonly restored: KeyedChains | undefined;
  /** The checkpoint `restored` comes from. */
  readonly restoredFrom?: number | undefined;
  /** Snapshot incrementally (`checkpoints.incremental`). */
  readonly incremental?: boolean | undefined;
  /** Incremental: leave rebasing long chains to the checkpoint coordinator (`delegateRebase` of either backend). */
  readonly delegateRebase?: boolean | undefined;
  /** Keep state in LevelDB (`state.backend: 'leveldb'`); absent: in the heap. */
  readonly leveldb?: { readonly cacheBytes?: number; readonly directory?: string; readonly maxOpenFiles?: number } | undefined;
}

/**
 * Base of keyed operators: owns the state backend (heap or LevelDB) for the subtask's key-group range, restores it on
 * open, snapshots it per key group on barriers and closes it with the subtask.
 */
export abstract class KeyedOperator<I> extends ChainedOperator<I> {
  protected readonly backend: KeyedStateBackend;
  protected readonly keyOf: (value: I) => string | number;
  #restored: KeyedChains | undefined;
  readonly #restoredFrom: number | undefined;

  constructor(place: OperatorPlace, setup: KeyedSetup, downstream: Downstream<unknown>) {
    super(place, downstream);
    this.keyOf = setup.keySelector as (value: I) => string | number;
    const options = {
      maxParallelism: setup.maxParallelism,
      range: keyGroupRangeOf(place.subtask, place.parallelism, setup.maxParallelism),
      incremental: setup.incremental === true,
    };
    this.backend =
      setup.leveldb === undefined
        ? new HeapKeyedStateBackend({ ...options, delegateRebase: setup.delegateRebase === true })
        : new LevelDbKeyedStateBackend({ ...options, ...setup.leveldb, delegateRebase: setup.delegateRebase === true });
    this.#restored = setup.restored;
    this.#restoredFrom = setup.restoredFrom;
  }

  override async open(): Promise<void> {
    // The backend reads only this subtask's key groups from the map, one chain at a time (a checkpoint's chains are
    // read from the store and concatenated when asked for), and lets each go once restored. Restored from a
    // checkpoint without state for this operator: the backend's chains start empty, from it.
    const restored = this.#restored;
    this.#restored = undefined;
    await this.backend.restore(restored ?? [], this.#restoredFrom);
  }

  override async snapshot(checkpointId?: number): Promise<OperatorSnapshot> {
    const snapshot = await this.backend.snapshot(checkpointId);
    return snapshot.incremental === undefined ? { keyed: snapshot.keyGroups } : { keyed: snapshot.keyGroups, incremental: snapshot.incremental };
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

import type { KeySelector } from '../../api/index.ts';
import { HeapKeyedStateBackend, keyGroupRangeOf } from '../../state/index.ts';
import { ChainedOperator, type Downstream, type OperatorPlace, type OperatorSnapshot } from './chained-operator.ts';

/** Where a keyed operator subtask's state comes from and how big the key space is. */
export interface KeyedSetup {
  readonly keySelector: KeySelector;
  readonly maxParallelism: number;
  /** Key groups from the restored checkpoint for this operator's uid (all old subtasks); the backend keeps its own. */
  readonly restored: ReadonlyMap<number, Uint8Array> | undefined;
  /** The checkpoint `restored` comes from. */
  readonly restoredFrom?: number | undefined;
  /** Snapshot incrementally (`checkpoints.incremental`). */
  readonly incremental?: boolean | undefined;
}

/**
 * Base of keyed operators: owns a heap state backend for the subtask's key-group range, restores it on open and
 * snapshots it per key group on barriers.
 */
export abstract class KeyedOperator<I> extends ChainedOperator<I> {
  protected readonly backend: HeapKeyedStateBackend;
  protected readonly keyOf: (value: I) => string | number;
  readonly #restored: ReadonlyMap<number, Uint8Array> | undefined;
  readonly #restoredFrom: number | undefined;

  constructor(place: OperatorPlace, setup: KeyedSetup, downstream: Downstream<unknown>) {
    super(place, downstream);
    this.keyOf = setup.keySelector as (value: I) => string | number;
    this.backend = new HeapKeyedStateBackend({
      maxParallelism: setup.maxParallelism,
      range: keyGroupRangeOf(place.subtask, place.parallelism, setup.maxParallelism),
      incremental: setup.incremental === true,
    });
    this.#restored = setup.restored;
    this.#restoredFrom = setup.restoredFrom;
  }

  override async open(): Promise<void> {
    // Restored from a checkpoint without state for this operator: the backend's chains start empty, from it.
    await this.backend.restore(this.#restored ?? [], this.#restoredFrom);
  }

  override async snapshot(checkpointId?: number): Promise<OperatorSnapshot> {
    const snapshot = await this.backend.snapshot(checkpointId);
    return snapshot.incremental === undefined ? { keyed: snapshot.keyGroups } : { keyed: snapshot.keyGroups, incremental: snapshot.incremental };
  }

  override nextTimer(): number | undefined {
    return this.backend.nextTimerTimestamp();
  }
}

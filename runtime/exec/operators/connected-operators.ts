import type { KeySelector } from '../../api/index.ts';
import { SluiceError } from '../../errors/index.ts';
import type { StateKey } from '../../state/index.ts';
import type { Clock } from '../../time/index.ts';
import { emitToSideOutput, type Downstream, type OperatorPlace } from './chained-operator.ts';
import type { KeyedSetup } from './keyed-operator.ts';
import { KeyedProcessOperator, type ElementFn, type KeyedProcessSpec } from './keyed-process-operator.ts';
import { BroadcastState, type StoredBroadcastState } from './broadcast-state.ts';

/** An operator that tells its inputs apart: the subtask hands input `i`'s records to `inputs[i]`. */
export interface MultiInputOperator {
  readonly inputs: readonly Downstream<unknown>[];
}

/**
 * Two keyed streams connected (Flink's KeyedCoProcessOperator): records of the first input go to `processElement1`
 * keyed by the first selector, records of the second to `processElement2` keyed by the second, against the same keyed
 * state and timers. The input gate aligns barriers across both inputs and takes the minimum of their watermarks.
 */
export class KeyedCoProcessOperator extends KeyedProcessOperator<unknown> implements MultiInputOperator {
  readonly inputs: readonly Downstream<unknown>[];

  constructor(
    place: OperatorPlace,
    setup: KeyedSetup,
    spec: KeyedProcessSpec & { processElement1: ElementFn; processElement2: ElementFn },
    secondKey: KeySelector,
    clock: Clock,
    next: Downstream<unknown>,
  ) {
    super(place, setup, spec, spec.processElement1.bind(spec), clock, next);
    const second = spec.processElement2.bind(spec);
    const keyOfSecond = secondKey as (value: unknown) => StateKey;
    this.inputs = [
      this,
      { process: (records, timestamps) => this.processWith(second, keyOfSecond, records, timestamps), processWatermark: (w) => this.processWatermark(w) },
    ];
  }
}

interface BroadcastSpec extends KeyedProcessSpec {
  readonly broadcastState: Record<string, unknown>;
  processElement: ElementFn;
  processBroadcastElement(value: unknown, ctx: unknown): unknown;
}

/**
 * A keyed stream connected to a broadcast stream (Flink's co-broadcast-with-keyed operator). Keyed records go to
 * `processElement` with the keyed context plus a read-only view of the broadcast state; broadcast records go to
 * `processBroadcastElement`, which may change it. Every subtask receives every broadcast record, so every subtask
 * holds the same broadcast state: only subtask 0 puts it in checkpoints (once, not once per subtask), and a restore
 * hands that copy to every subtask, at any parallelism.
 */
export class KeyedBroadcastProcessOperator extends KeyedProcessOperator<unknown> implements MultiInputOperator {
  readonly inputs: readonly Downstream<unknown>[];
  readonly #state: BroadcastState;
  readonly #processBroadcast: (value: unknown, ctx: unknown) => unknown;
  readonly #broadcastCtx: { timestamp: number | undefined; readonly broadcast: unknown; currentProcessingTime(): number; currentWatermark(): number; emit(value: unknown): void; output(name: string, value: unknown): void; applyToKeyedState(name: string, fn: (key: StateKey, state: unknown) => void): void };
  #emitted: unknown[] = [];

  constructor(place: OperatorPlace, setup: KeyedSetup, spec: BroadcastSpec, clock: Clock, next: Downstream<unknown>) {
    super(place, setup, spec, spec.processElement.bind(spec), clock, next);
    this.#state = new BroadcastState(Object.keys(spec.broadcastState));
    this.#processBroadcast = spec.processBroadcastElement.bind(spec);
    (this.ctx as { broadcast?: unknown }).broadcast = this.#state.readOnly;
    const ctx = {
      timestamp: undefined as number | undefined,
      broadcast: this.#state.writable,
      currentProcessingTime: () => clock.now(),
      currentWatermark: () => this.watermark,
      emit: (value: unknown) => void this.#emitted.push(value),
      output: (name: string, value: unknown) => emitToSideOutput(this.place, name, value, ctx.timestamp),
      applyToKeyedState: (name: string, fn: (key: StateKey, state: unknown) => void) => {
        const state = (this.ctx.state as Record<string, unknown>)[name];
        if (state === undefined) throw new SluiceError('SLUICE_UNDECLARED_STATE', `applyToKeyedState(${JSON.stringify(name)}): operator "${this.place.uid}" declares no keyed state of that name: declare it in the function's state`, { retriable: false });
        for (const key of this.backend.keysWithState(name)) {
          this.backend.setCurrentKey(key);
          fn(key, state);
        }
      },
    };
    this.#broadcastCtx = ctx;
    this.inputs = [this, { process: (records, timestamps) => this.#processBroadcastRecords(records, timestamps), processWatermark: (w) => this.processWatermark(w) }];
  }

  override async open(): Promise<void> {
    await super.open();
    // Every old subtask's copy is the same; only subtask 0 stored one.
    const stored = this.restoredOwnState?.[0] as StoredBroadcastState | undefined;
    if (stored !== undefined) this.#state.restore(stored);
  }

  /** The broadcast state, stored by subtask 0 only: every subtask holds the same. */
  protected override async snapshotOwnState(): Promise<unknown> {
    return this.place.subtask === 0 ? this.#state.toStored() : undefined;
  }

  #processBroadcastRecords(records: readonly unknown[], timestamps: readonly number[] | undefined): Promise<void> | undefined {
    const out: unknown[] = (this.#emitted = []);
    const outTimestamps: number[] | undefined = timestamps === undefined ? undefined : [];
    const ctx = this.#broadcastCtx;
    this.readTtlClock(); // applyToKeyedState reads keyed state
    let mark = 0;
    for (let i = 0; i < records.length; i++) {
      try {
        for (; i < records.length; i++) {
          mark = out.length;
          ctx.timestamp = timestamps?.[i];
          const result = this.#processBroadcast(records[i], ctx);
          if (result !== undefined) out.push(result);
          if (outTimestamps !== undefined) {
            while (outTimestamps.length < out.length) outTimestamps.push(timestamps![i] as number);
          }
        }
      } catch (err) {
        this.skipOrFail(err, records[i]);
        out.length = mark;
        if (outTimestamps !== undefined) outTimestamps.length = mark;
      }
    }
    return this.send(out, outTimestamps);
  }
}

import { ERROR_OUTPUT } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { StageOutput } from './output.ts';
import type { SubtaskMetrics } from './subtask-metrics.ts';

interface Batch {
  readonly records: unknown[];
  /** Event times, when the records emitted into this batch had them (a batch has them for all or for none). */
  readonly timestamps: number[] | undefined;
}

/**
 * Records a subtask's operator emitted to side outputs (and its error output), held until the subtask hands them to
 * the channels. Operators emit one record at a time from inside their loops, where a full channel cannot be awaited;
 * the subtask flushes the buffer after each batch, timer firing and mail, and always before a barrier or the end
 * goes out, so side records keep their order and their place before the barrier that follows them (exactly once).
 * What one batch emits is bounded by the batch, so the buffer is too.
 */
export class SideOutputBuffer {
  readonly #outputs: ReadonlyMap<string, StageOutput<unknown>>;
  readonly #metrics: SubtaskMetrics;
  readonly #operator: string;
  #batches = new Map<string, Batch[]>();
  #pending = false;

  /** `outputs`: where each side output read downstream goes, by name. `operator`: the emitting operator, for errors. */
  constructor(outputs: ReadonlyMap<string, StageOutput<unknown>>, metrics: SubtaskMetrics, operator: string) {
    this.#outputs = outputs;
    this.#metrics = metrics;
    this.#operator = operator;
  }

  get pending(): boolean {
    return this.#pending;
  }

  /** Queues `value` for side output `name` (with its event time, if the stream has event time). */
  emit(name: string, value: unknown, timestamp: number | undefined): void {
    if (!this.#outputs.has(name)) {
      const what = name === ERROR_OUTPUT ? 'its error output' : `side output ${JSON.stringify(name)}`;
      throw new SluiceError(
        'SLUICE_UNDECLARED_OUTPUT',
        `operator "${this.#operator}" emitted to ${what}, which nothing reads: declare it in the function's outputs and read it with .sideOutput(${JSON.stringify(name)})`,
        { retriable: false },
      );
    }
    let batches = this.#batches.get(name);
    if (batches === undefined) this.#batches.set(name, (batches = []));
    let last = batches[batches.length - 1];
    if (last === undefined || (last.timestamps === undefined) !== (timestamp === undefined)) {
      last = { records: [], timestamps: timestamp === undefined ? undefined : [] };
      batches.push(last);
    }
    last.records.push(value);
    if (timestamp !== undefined) (last.timestamps as number[]).push(timestamp);
    this.#pending = true;
  }

  /** Sends what is queued to the channels; a promise when some channel is full (backpressure). */
  flush(): Promise<void> | undefined {
    if (!this.#pending) return undefined;
    const queued = this.#batches;
    this.#batches = new Map();
    this.#pending = false;
    const sends: Array<() => Promise<void> | undefined> = [];
    for (const [name, batches] of queued) {
      const output = this.#outputs.get(name) as StageOutput<unknown>;
      for (const batch of batches) {
        this.#metrics.recordsOut += batch.records.length;
        sends.push(() => output.emit(batch.records, batch.timestamps));
      }
    }
    return sendInOrder(sends, 0);
  }
}

function sendInOrder(sends: ReadonlyArray<() => Promise<void> | undefined>, from: number): Promise<void> | undefined {
  for (let i = from; i < sends.length; i++) {
    const pending = (sends[i] as () => Promise<void> | undefined)();
    if (pending !== undefined) return pending.then(() => sendInOrder(sends, i + 1));
  }
  return undefined;
}

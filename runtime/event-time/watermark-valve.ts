import { NO_WATERMARK } from '../api/event-time.ts';

/** What the valve lets through after an input's watermark or idleness changed. */
export type ValveOutput = { readonly kind: 'watermark'; readonly watermark: number } | { readonly kind: 'idle'; readonly idle: boolean };

/**
 * Combines the watermarks of several inputs (the channels of an input gate, the splits of a source reader) into
 * one: the minimum over the inputs that are active, i.e. neither idle nor ended. It only ever moves forward. When
 * every input is idle, the combination is idle too, so it holds nothing back downstream (Flink's StatusWatermarkValve).
 *
 * An idle input that becomes active again with a watermark below the combined one holds the combination where it
 * is until it catches up: its records are late, but later records of the others are not made late by it.
 *
 * @example
 * ```ts
 * const valve = new WatermarkValve(2);
 * valve.onWatermark(0, 1_000); // [] : input 1 knows nothing yet
 * valve.onWatermark(1, 500);   // [{ kind: 'watermark', watermark: 500 }]
 * ```
 */
export class WatermarkValve {
  readonly #watermarks: number[];
  readonly #idle: boolean[];
  readonly #ended: boolean[];
  #combined = NO_WATERMARK;
  #combinedIdle = false;

  constructor(inputs: number) {
    this.#watermarks = new Array<number>(inputs).fill(NO_WATERMARK);
    this.#idle = new Array<boolean>(inputs).fill(false);
    this.#ended = new Array<boolean>(inputs).fill(false);
  }

  /** The combined watermark so far. */
  get watermark(): number {
    return this.#combined;
  }

  get idle(): boolean {
    return this.#combinedIdle;
  }

  /** Never emits a watermark at or below `watermark` (a valve that replaces one which already got this far). */
  holdAt(watermark: number): void {
    if (watermark > this.#combined) this.#combined = watermark;
  }

  /** Input `i` reached `watermark` (lower values than its last are ignored: a watermark never goes back). */
  onWatermark(i: number, watermark: number): ValveOutput[] {
    const out: ValveOutput[] = [];
    if (this.#idle[i] === true) this.#setIdle(i, false, out);
    if (watermark > (this.#watermarks[i] as number)) this.#watermarks[i] = watermark;
    this.#advance(out);
    return out;
  }

  /** Input `i` became idle (it holds nothing back) or active again. */
  onIdle(i: number, idle: boolean): ValveOutput[] {
    const out: ValveOutput[] = [];
    this.#setIdle(i, idle, out);
    this.#advance(out);
    return out;
  }

  /** Input `i` ended: it no longer holds anything back. */
  onEnd(i: number): ValveOutput[] {
    const out: ValveOutput[] = [];
    this.#ended[i] = true;
    this.#advance(out);
    return out;
  }

  #setIdle(i: number, idle: boolean, out: ValveOutput[]): void {
    if (this.#idle[i] === idle) return;
    this.#idle[i] = idle;
    const allIdle = this.#idle.every((isIdle, j) => isIdle || this.#ended[j] === true) && this.#idle.some((isIdle) => isIdle);
    if (allIdle !== this.#combinedIdle) {
      this.#combinedIdle = allIdle;
      out.push({ kind: 'idle', idle: allIdle });
    }
  }

  #advance(out: ValveOutput[]): void {
    let min = Number.POSITIVE_INFINITY;
    let active = 0;
    for (let i = 0; i < this.#watermarks.length; i++) {
      if (this.#idle[i] === true || this.#ended[i] === true) continue;
      active++;
      const w = this.#watermarks[i] as number;
      if (w < min) min = w;
    }
    // Nothing active: idle inputs must not advance time; ended ones did so with their final watermark.
    if (active === 0) return;
    if (min > this.#combined) {
      this.#combined = min;
      out.push({ kind: 'watermark', watermark: min });
    }
  }
}

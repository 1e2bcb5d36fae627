import type { SourceLag } from '../runner/index.ts';

/** How many samples a {@link LagHistory} keeps: five minutes at the tracker's one sample a second. */
export const LAG_HISTORY_SAMPLES = 300;

/** Lag over time, as `GET /v1/jobs/{name}/lag` answers it: one row of lags per split, aligned with `at`. */
export interface LagHistoryView {
  /** Sample times (epoch ms), oldest first. */
  readonly at: readonly number[];
  /** `lag[i]` was measured at `at[i]`; null where the split was not read (before it was assigned, or after). */
  readonly splits: readonly { readonly source: string; readonly split: string; readonly lag: readonly (number | null)[] }[];
}

/**
 * A bounded history of every split's lag (records behind the end, per Kafka partition), so a dashboard opened now
 * can draw the last minutes. Keyed by source and split, not subtask: a partition keeps its line across rescales.
 *
 * @example
 * ```ts
 * const history = new LagHistory();
 * history.add(Date.now(), runner.sourceLag());
 * history.view(); // { at: [...], splits: [{ source, split, lag: [...] }] }
 * ```
 */
export class LagHistory {
  readonly #at: number[] = [];
  readonly #lags = new Map<string, { source: string; split: string; lag: (number | null)[] }>();
  readonly #capacity: number;

  constructor(capacity = LAG_HISTORY_SAMPLES) {
    this.#capacity = capacity;
  }

  add(at: number, lags: readonly SourceLag[]): void {
    const index = this.#at.length;
    this.#at.push(at);
    for (const { source, split, lag } of lags) {
      const key = `${source}\u0000${split}`;
      let row = this.#lags.get(key);
      if (row === undefined) {
        row = { source, split, lag: new Array<number | null>(index).fill(null) };
        this.#lags.set(key, row);
      }
      row.lag.push(lag);
    }
    for (const row of this.#lags.values()) if (row.lag.length === index) row.lag.push(null);
    if (this.#at.length > this.#capacity) {
      this.#at.shift();
      for (const [key, row] of this.#lags) {
        row.lag.shift();
        if (row.lag.every((v) => v === null)) this.#lags.delete(key);
      }
    }
  }

  view(): LagHistoryView {
    return { at: [...this.#at], splits: [...this.#lags.values()].map((row) => ({ source: row.source, split: row.split, lag: [...row.lag] })) };
  }
}

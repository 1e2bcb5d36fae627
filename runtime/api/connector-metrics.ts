/**
 * What a connector measures about one of its writers, for Prometheus: the runtime exports each metric labelled
 * with the job, the operator's uid and the subtask, read when Prometheus scrapes (and, on worker threads, as of the
 * worker's last report, four times a second). Names follow Prometheus's rules: `sluice_<connector>_…`, base units,
 * `_total` for counters. The same name must always come with the same type and help.
 */
export type ConnectorMetric =
  | { readonly name: string; readonly help: string; readonly type: 'counter' | 'gauge'; readonly value: number }
  | ({ readonly name: string; readonly help: string; readonly type: 'histogram' } & HistogramValues);

/** A histogram's state: `counts[i]` observations fell at or below `upperBounds[i]` and above the bound before it. */
export interface HistogramValues {
  /** Upper bounds of the buckets, ascending (a last bucket, +∞, is implied). */
  readonly upperBounds: readonly number[];
  /** One count per upper bound, then one for the observations above the last bound. */
  readonly counts: readonly number[];
  /** Sum of the observed values. */
  readonly sum: number;
  /** Number of observed values. */
  readonly count: number;
}

/**
 * A fixed-bucket histogram a connector observes into and reports as {@link HistogramValues} (no allocation per
 * observation).
 *
 * @example
 * ```ts
 * const latency = new FixedHistogram([0.01, 0.1, 1, 10]);
 * latency.observe(0.042);
 * const metric: ConnectorMetric = { name: 'sluice_x_request_duration_seconds', help: 'Request time.', type: 'histogram', ...latency.values() };
 * ```
 */
export class FixedHistogram {
  readonly #upperBounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(upperBounds: readonly number[]) {
    this.#upperBounds = [...upperBounds].sort((a, b) => a - b);
    this.#counts = new Array<number>(this.#upperBounds.length + 1).fill(0);
  }

  /** Counts `value` in the first bucket whose upper bound it does not exceed. */
  observe(value: number): void {
    const bounds = this.#upperBounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#sum += value;
    this.#count++;
  }

  /** Adds another histogram with the same bounds (a closed writer's, into the sink's totals). */
  add(other: HistogramValues): void {
    for (let i = 0; i < this.#counts.length; i++) this.#counts[i] = (this.#counts[i] as number) + (other.counts[i] ?? 0);
    this.#sum += other.sum;
    this.#count += other.count;
  }

  /** A copy of the counts so far, for {@link SinkWriter.metrics}. */
  values(): HistogramValues {
    return { upperBounds: this.#upperBounds, counts: [...this.#counts], sum: this.#sum, count: this.#count };
  }
}

import type { JobEvent, StageMetrics } from '../runner/index.ts';

/**
 * The model of `sluice run`'s once-a-second progress line: records in/out per second of the first and last stage,
 * the newest checkpoint, and which stages are backpressured right now.
 *
 * Counters belong to an attempt: a restart or a rescale starts them again at 0, so the rates' baseline starts again
 * too (against the old attempt's totals they came out negative). The checkpoint shown follows the job's events, so
 * after a restart it is the one the new attempt restored from until the next one completes.
 *
 * @example
 * ```ts
 * const progress = new ProgressLine();
 * runner.events.subscribe((e) => progress.onEvent(e));
 * setInterval(() => statusLine.show(progress.format(Date.now(), runner.metrics()) ?? ''), 1000);
 * ```
 */
export class ProgressLine {
  #previous: { at: number; in: number; out: number } | undefined;
  #checkpoint: string | undefined;
  /** Shown while no attempt runs (between a failure and the restart). */
  #status: string | undefined;

  onEvent(event: JobEvent): void {
    switch (event.type) {
      case 'attempt-started':
        this.#previous = undefined;
        this.#status = undefined;
        this.#checkpoint = event.restoredFrom === undefined ? undefined : `restored from checkpoint ${event.restoredFrom}`;
        break;
      case 'rescaled':
        this.#previous = undefined;
        break;
      case 'checkpoint-completed':
        this.#checkpoint = `${event.manifest.kind} ${event.manifest.id}`;
        break;
      case 'attempt-failed':
        if (event.restartInMs !== undefined) this.#status = `attempt ${event.attempt} failed; restarting in ${formatSeconds(event.restartInMs)}`;
        break;
      default:
    }
  }

  /** The line for `now`, or `undefined` when there is nothing new to show (no baseline for rates yet). */
  format(now: number, stages: readonly StageMetrics[]): string | undefined {
    const first = stages[0];
    const last = stages[stages.length - 1];
    if (this.#status !== undefined) return this.#status;
    if (first === undefined || last === undefined) return undefined;
    const totalIn = first.recordsIn;
    const totalOut = last.recordsIn;
    const previous = this.#previous;
    this.#previous = { at: now, in: totalIn, out: totalOut };
    // Counters that went down belong to a new attempt whose start this model has not heard of yet: new baseline.
    if (previous === undefined || now <= previous.at || totalIn < previous.in || totalOut < previous.out) return undefined;
    const seconds = (now - previous.at) / 1000;
    const rateIn = Math.round((totalIn - previous.in) / seconds);
    const rateOut = Math.round((totalOut - previous.out) / seconds);
    const pressured = stages.filter((s) => s.backpressured > 0).map((s) => s.operators.join('→'));
    return (
      `in ${formatCount(rateIn)}/s (${formatCount(totalIn)})  out ${formatCount(rateOut)}/s (${formatCount(totalOut)})` +
      (this.#checkpoint === undefined ? '' : `  ${this.#checkpoint}`) +
      (pressured.length === 0 ? '' : `  backpressured: ${pressured.join(', ')}`)
    );
  }
}

function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return String(n);
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

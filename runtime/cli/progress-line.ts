import type { StageMetrics } from '../runner/index.ts';

/**
 * Formats the once-a-second progress line: records in/out per second of the first and last stage, and which stages
 * are backpressured right now.
 */
export class ProgressLine {
  #previous: { at: number; in: number; out: number } | undefined;

  format(now: number, stages: readonly StageMetrics[], checkpoint: number | undefined): string | undefined {
    const first = stages[0];
    const last = stages[stages.length - 1];
    if (first === undefined || last === undefined) return undefined;
    const totalIn = first.recordsIn;
    const totalOut = last.recordsIn;
    const previous = this.#previous;
    this.#previous = { at: now, in: totalIn, out: totalOut };
    if (previous === undefined || now <= previous.at) return undefined;
    const seconds = (now - previous.at) / 1000;
    const rateIn = Math.round((totalIn - previous.in) / seconds);
    const rateOut = Math.round((totalOut - previous.out) / seconds);
    const pressured = stages.filter((s) => s.backpressured > 0).map((s) => s.operators.join('→'));
    return (
      `in ${formatCount(rateIn)}/s (${formatCount(totalIn)})  out ${formatCount(rateOut)}/s (${formatCount(totalOut)})` +
      (checkpoint === undefined ? '' : `  checkpoint ${checkpoint}`) +
      (pressured.length === 0 ? '' : `  backpressured: ${pressured.join(', ')}`)
    );
  }
}

function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return String(n);
}

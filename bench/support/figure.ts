/**
 * One measured figure, printed as one JSON line: the format every bench script emits and `bench/run.ts` collects.
 * `baseline` is measured in the same run (a hand-written loop, a bare client) or is a stated bar; `ratio` is
 * value / baseline, so drift of the shared machine cancels out.
 */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
  /** What the baseline is, and the bar if there is one. */
  note?: string;
}

export function emitFigure(figure: Omit<Figure, 'ratio'> & { ratio?: number }): void {
  const ratio = figure.ratio ?? figure.value / figure.baseline;
  process.stdout.write(`${JSON.stringify({ ...figure, value: significant(figure.value), baseline: significant(figure.baseline), ratio: round(ratio, 3) })}\n`);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Whole numbers from 100 up; one decimal below (a 9.6 s restore must not print as 10 against a 10 s bar). */
function significant(n: number): number {
  return round(n, Math.abs(n) < 100 ? 1 : 0);
}

function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

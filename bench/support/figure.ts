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
  process.stdout.write(`${JSON.stringify({ ...figure, value: round(figure.value), baseline: round(figure.baseline), ratio: round(ratio, 3) })}\n`);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

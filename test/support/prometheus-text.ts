import { readFile } from 'node:fs/promises';

/** One sample of a Prometheus text exposition: `name{label="value",…} number`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of a scrape (comments and `# HELP`/`# TYPE` lines skipped). */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key as string] = (value as string).replace(/\\(.)/g, '$1');
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `where`. */
export function sumOf(samples: readonly Sample[], name: string, where: Readonly<Record<string, string>> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

/** A metric of docs/observability.md's table: name, type and label names. */
export interface DocumentedMetric {
  readonly name: string;
  readonly type: string;
  readonly labels: readonly string[];
  /** What the metric needs to be reported at all (`event time`, `an Elasticsearch sink`); absent: every job has it. */
  readonly onlyWith?: string;
}

/** The metrics table of docs/observability.md. */
export async function documentedMetrics(): Promise<DocumentedMetric[]> {
  const text = await readFile(new URL('../../docs/observability.md', import.meta.url), 'utf8');
  const out: DocumentedMetric[] = [];
  for (const [, name, type, labels, what] of text.matchAll(/^\| `(sluice_[a-z_]+)` \| (counter|gauge|histogram) \| ([a-z_, ]*) \| (.*) \|$/gm)) {
    const onlyWith = /^\*only with ([^*]+)\*/.exec(what as string)?.[1];
    out.push({ name: name as string, type: type as string, labels: (labels as string).split(',').map((l) => l.trim()).filter((l) => l !== ''), ...(onlyWith === undefined ? {} : { onlyWith }) });
  }
  return out;
}

/**
 * Compares what two runs of a job wrote, output by output (a Kafka topic, an Elasticsearch index, a fileSink
 * directory), as multisets: counts are compared, order in general is not (restarts and parallel subtasks interleave
 * differently). Order is compared where a system promises it: records that carry a `sequence` (a Kafka partition and
 * key) must come in the same order in both runs, as a consumer reading that key relies on.
 */

/** One record of an output: its content, canonical, and an identity when the system has one (ES id, Kafka key). */
export interface OutputRecord {
  /** The record as text (canonical JSON for documents), compared between runs. */
  readonly content: string;
  /** What makes two records the same one (a document id), when the output has one. */
  readonly identity?: string;
  /** Records with the same sequence (e.g. `partition/key` of a Kafka topic), listed in the order they were written. */
  readonly sequence?: string;
}

/** Outputs by name, e.g. `kafka:totals`, `elasticsearch:user-clicks`, `file:out/part`. */
export type Outputs = ReadonlyMap<string, readonly OutputRecord[]>;

/** How a record of the faulty run differs from the clean run (see the counters of {@link OutputDiff}). */
export type DifferenceKind = 'missing' | 'duplicated' | 'differing' | 'unexpected' | 'reordered';

/** One difference, for a person to read. */
export interface Difference {
  /** The output the difference is in, e.g. `kafka:totals`. */
  readonly output: string;
  /** How the record differs. */
  readonly kind: DifferenceKind;
  /** The record of the clean run (missing, duplicated, differing). */
  readonly expected?: string;
  /** The record of the faulty run (duplicated, differing, unexpected). */
  readonly actual?: string;
  /** How many copies (duplicated: extra copies). */
  readonly count: number;
}

/** The comparison of two runs' outputs ({@link diffOutputs}): counts per kind of difference, and the first ones. */
export interface OutputDiff {
  /** True when the two runs wrote the same: every counter below is 0. */
  readonly identical: boolean;
  /** Records of the clean run, over all outputs. */
  readonly expectedRecords: number;
  /** How many records the faulty run wrote. */
  readonly actualRecords: number;
  /** In the clean run, absent from the faulty one. */
  readonly missing: number;
  /** In both, more often in the faulty run (counted: extra copies). */
  readonly duplicated: number;
  /** Same identity (ES id, Kafka key), other content. */
  readonly differing: number;
  /** Only in the faulty run, no identity in common with a missing record. */
  readonly unexpected: number;
  /** Sequences (a Kafka partition and key) whose records are all there but in another order. */
  readonly reordered: number;
  /** The first differences, output by output. */
  readonly differences: readonly Difference[];
}

/**
 * JSON with object keys sorted, so equal documents compare equal whatever order their fields were written in.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: { d: 2, c: 3 } }); // '{"a":{"c":3,"d":2},"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * Compares `actual` (the run with faults) with `expected` (the clean run); keeps the first `limit` differences.
 *
 * @example
 * ```ts
 * const diff = diffOutputs(new Map([['file:out', clean]]), new Map([['file:out', faulty]]));
 * assert.ok(diff.identical, JSON.stringify(diff.differences));
 * ```
 */
export function diffOutputs(expected: Outputs, actual: Outputs, limit = 10): OutputDiff {
  let missing = 0;
  let duplicated = 0;
  let differing = 0;
  let unexpected = 0;
  let reordered = 0;
  let expectedRecords = 0;
  let actualRecords = 0;
  const differences: Difference[] = [];
  const note = (d: Difference): void => {
    if (differences.length < limit) differences.push(d);
  };
  for (const name of [...new Set([...expected.keys(), ...actual.keys()])].sort()) {
    const want = expected.get(name) ?? [];
    const got = actual.get(name) ?? [];
    expectedRecords += want.length;
    actualRecords += got.length;
    const counts = new Map<string, { want: number; got: number; identity: string | undefined }>();
    for (const r of want) {
      const c = counts.get(r.content) ?? { want: 0, got: 0, identity: r.identity };
      c.want++;
      counts.set(r.content, c);
    }
    for (const r of got) {
      const c = counts.get(r.content) ?? { want: 0, got: 0, identity: r.identity };
      c.got++;
      counts.set(r.content, c);
    }
    const lost: Array<{ content: string; identity: string | undefined }> = [];
    const extra: Array<{ content: string; identity: string | undefined }> = [];
    for (const [content, c] of counts) {
      if (c.got > c.want && c.want > 0) {
        duplicated += c.got - c.want;
        note({ output: name, kind: 'duplicated', expected: content, actual: content, count: c.got - c.want });
      } else if (c.got > c.want) {
        for (let i = c.want; i < c.got; i++) extra.push({ content, identity: c.identity });
      } else {
        for (let i = c.got; i < c.want; i++) lost.push({ content, identity: c.identity });
      }
    }
    // A missing and an unexpected record with the same identity are one record written differently.
    const extraByIdentity = new Map<string, Array<{ content: string }>>();
    for (const e of extra) if (e.identity !== undefined) extraByIdentity.set(e.identity, [...(extraByIdentity.get(e.identity) ?? []), e]);
    const paired = new Set<{ content: string }>();
    for (const l of lost) {
      const candidates = l.identity === undefined ? undefined : extraByIdentity.get(l.identity);
      const match = candidates?.shift();
      if (match === undefined) {
        missing++;
        note({ output: name, kind: 'missing', expected: l.content, count: 1 });
        continue;
      }
      paired.add(match);
      differing++;
      note({ output: name, kind: 'differing', expected: l.content, actual: match.content, count: 1 });
    }
    for (const e of extra) {
      if (paired.has(e)) continue;
      unexpected++;
      note({ output: name, kind: 'unexpected', actual: e.content, count: 1 });
    }
    if (lost.length === 0 && extra.length === 0) {
      for (const { sequence, expected: before, actual: after } of reorderings(want, got)) {
        reordered++;
        note({ output: name, kind: 'reordered', expected: `${sequence}: ${before}`, actual: `${sequence}: ${after}`, count: 1 });
      }
    }
  }
  return {
    identical: missing + duplicated + differing + unexpected + reordered === 0,
    expectedRecords,
    actualRecords,
    missing,
    duplicated,
    differing,
    unexpected,
    reordered,
    differences,
  };
}

/** Sequences whose records come in another order in `got` than in `want`, with the first records that differ. */
function reorderings(want: readonly OutputRecord[], got: readonly OutputRecord[]): Array<{ sequence: string; expected: string; actual: string }> {
  const bySequence = (records: readonly OutputRecord[]): Map<string, string[]> => {
    const map = new Map<string, string[]>();
    for (const r of records) if (r.sequence !== undefined) map.set(r.sequence, [...(map.get(r.sequence) ?? []), r.content]);
    return map;
  };
  const wanted = bySequence(want);
  const gotten = bySequence(got);
  const out: Array<{ sequence: string; expected: string; actual: string }> = [];
  for (const [sequence, expected] of wanted) {
    const actual = gotten.get(sequence) ?? [];
    const at = expected.findIndex((content, i) => actual[i] !== content);
    if (at >= 0) out.push({ sequence, expected: `record ${at}: ${expected[at]}`, actual: `record ${at}: ${actual[at] ?? 'none'}` });
  }
  return out;
}

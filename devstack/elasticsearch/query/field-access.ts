import { indexedTerms, type IndexedValue } from '../mapping/field-values.ts';
import type { ResolvedField } from '../mapping/mapping-tree.ts';

/**
 * Reading a field's indexed values out of a stored `_source`: arrays are flattened and dotted keys
 * (`{"a.b": 1}`) are found too, as ES indexes both forms under the path `a.b`.
 */
export function valuesAt(source: unknown, path: readonly string[], from = 0, out: unknown[] = []): unknown[] {
  if (source === null || source === undefined) return out;
  if (Array.isArray(source)) {
    for (const element of source) valuesAt(element, path, from, out);
    return out;
  }
  if (from === path.length) {
    out.push(source);
    return out;
  }
  if (typeof source !== 'object') return out;
  const record = source as Record<string, unknown>;
  valuesAt(record[path[from]!], path, from + 1, out);
  // A dotted key covering several remaining steps: {"a.b": 1} for the path a.b.
  for (let end = from + 2; end <= path.length; end++) {
    const key = path.slice(from, end).join('.');
    if (key in record) valuesAt(record[key], path, end, out);
  }
  return out;
}

/** The values of `field` in `source` as the index holds them (tokens for text, epoch millis for dates, …). */
export function termsOf(source: Record<string, unknown>, field: ResolvedField): IndexedValue[] {
  const raw = valuesAt(source, field.sourcePath);
  if (raw.length === 0) return [];
  const out: IndexedValue[] = [];
  for (const value of raw) {
    if (value === null || typeof value === 'object') continue;
    for (const term of indexedTerms(field, value as string | number | boolean)) out.push(term);
  }
  return out;
}

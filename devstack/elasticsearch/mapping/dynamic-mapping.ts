import { detectDateFormat, SLASH_DATE_FORMAT } from './date-formats.ts';
import { leafFromDefinition, newObjectMapping, type FieldMapping, type RootMapping } from './mapping-tree.ts';

/**
 * ES's default dynamic mapping rules for a field seen for the first time (no dynamic templates):
 * - a JSON integer → `long`, any other number → `float`;
 * - `true`/`false` → `boolean`;
 * - a string that parses as a date under the default `dynamic_date_formats` → `date`
 *   (`strict_date_optional_time`, or `yyyy/MM/dd HH:mm:ss||yyyy/MM/dd` which also writes its `format`);
 * - with `numeric_detection`, a numeric string → `long`/`float`;
 * - any other string → `text` with a `keyword` sub-field (`ignore_above: 256`);
 * - an object → an object mapper whose children are mapped as they are parsed;
 * - an array → the type of its first non-null element; `null` and `[]` add no mapping.
 *
 * Known deviation: JSON.parse forgets whether a number was written `1` or `1.0`, so `{"x": 1.0}` maps to `long`
 * here and to `float` on a real node.
 */
export function inferMapping(value: unknown, root: RootMapping, path: string): FieldMapping | undefined {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    for (const element of value) {
      const inferred = inferMapping(element, root, path);
      if (inferred !== undefined) return inferred;
    }
    return undefined;
  }
  switch (typeof value) {
    case 'number':
      return leafFromDefinition(path, { type: Number.isInteger(value) ? 'long' : 'float' });
    case 'boolean':
      return leafFromDefinition(path, { type: 'boolean' });
    case 'string':
      return inferString(value, root, path);
    case 'object':
      return newObjectMapping();
    default:
      return undefined;
  }
}

function inferString(value: string, root: RootMapping, path: string): FieldMapping {
  if (root.dateDetection) {
    const format = detectDateFormat(value);
    if (format === 'iso') return leafFromDefinition(path, { type: 'date' });
    if (format === 'slashed') return leafFromDefinition(path, { type: 'date', format: SLASH_DATE_FORMAT });
  }
  if (root.numericDetection && value.trim() !== '' && !Number.isNaN(Number(value))) {
    return leafFromDefinition(path, { type: Number.isInteger(Number(value)) ? 'long' : 'float' });
  }
  return leafFromDefinition(path, { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } });
}

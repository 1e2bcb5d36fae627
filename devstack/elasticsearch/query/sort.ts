import { parsingException } from '../errors.ts';
import { isPlainObject, type ResolvedField } from '../mapping/mapping-tree.ts';
import type { IndexStore, StoredDoc } from '../store/index-store.ts';
import { ShardQueryError } from './evaluate.ts';
import { termsOf } from './field-access.ts';

/**
 * Sorting as ES does it: by field values (`asc` takes a document's smallest value, `desc` its largest), missing
 * values last unless `missing: "_first"`, ties broken by index order. What ES refuses to sort on it refuses here
 * too: `_id` (no fielddata on `_id` in 8.x), `text` fields (fielddata disabled), unmapped fields without
 * `unmapped_type`. Sort values come back in each hit's `sort` the way ES renders them (dates as epoch millis,
 * float fields in single precision, a missing long as Long.MAX_VALUE).
 */

export interface SortSpec {
  name: string;
  order: 'asc' | 'desc';
  missing: '_last' | '_first' | number | string;
  unmappedType: string | undefined;
}

export type SortValue = number | string | null;

const LONG_MAX = 9223372036854775807;
const LONG_MIN = -9223372036854775808;
const NUMERIC = new Set(['long', 'integer', 'short', 'byte', 'unsigned_long', 'date', 'date_nanos', 'boolean', 'double', 'float', 'half_float', 'scaled_float']);

/** Parses the body `sort` (string, object or array) or the query-string form `a:asc,b:desc`. */
export function parseSort(body: unknown, queryParam: string | null): SortSpec[] {
  const specs: SortSpec[] = [];
  const add = (name: string, order: unknown, options: Record<string, unknown> = {}): void => {
    const defaultOrder = name === '_score' ? 'desc' : 'asc';
    const o = order === undefined ? defaultOrder : String(order).toLowerCase();
    if (o !== 'asc' && o !== 'desc') throw parsingException(`[sort] unknown order [${String(order)}], expected [asc] or [desc]`);
    const missing = options['missing'];
    specs.push({
      name,
      order: o,
      missing: missing === undefined ? '_last' : (missing as SortSpec['missing']),
      unmappedType: typeof options['unmapped_type'] === 'string' ? options['unmapped_type'] : undefined,
    });
  };
  if (queryParam !== null && queryParam !== '') {
    for (const part of queryParam.split(',')) {
      const [name, order] = part.split(':');
      add(name!, order);
    }
    return specs;
  }
  if (body === undefined) return specs;
  for (const entry of Array.isArray(body) ? body : [body]) {
    if (typeof entry === 'string') add(entry, undefined);
    else if (isPlainObject(entry)) {
      for (const [name, spec] of Object.entries(entry)) {
        if (isPlainObject(spec)) add(name, spec['order'], spec);
        else add(name, spec);
      }
    } else throw parsingException('[sort] malformed, expected a string, an object or an array');
  }
  return specs;
}

/** Per index: how to read each sort key from a document. Throws what ES's shard would. */
export function sortReaders(specs: SortSpec[], index: IndexStore): Array<(doc: StoredDoc, position: number) => SortValue> {
  return specs.map((spec) => {
    if (spec.name === '_score') return () => 1;
    if (spec.name === '_doc') return (_doc, position) => position;
    if (spec.name === '_id') {
      throw new ShardQueryError({
        type: 'illegal_argument_exception',
        reason: 'Fielddata access on the _id field is disallowed, you can re-enable it by updating the dynamic cluster setting: indices.id_field_data.enabled',
      });
    }
    const field = index.fields.get(spec.name);
    if (field === undefined) {
      if (spec.unmappedType !== undefined) return () => null;
      throw new ShardQueryError({
        type: 'query_shard_exception', reason: `No mapping found for [${spec.name}] in order to sort on`, index_uuid: index.uuid, index: index.name,
      });
    }
    if (field.type === 'text' || field.type === 'match_only_text') {
      throw new ShardQueryError({
        type: 'illegal_argument_exception',
        reason: `Fielddata is disabled on [${spec.name}] in [${index.name}]. Text fields are not optimised for operations that require ` +
          'per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword ' +
          `field instead. Alternatively, set fielddata=true on [${spec.name}] in order to load field data by uninverting the inverted ` +
          'index. Note that this can use significant memory.',
      });
    }
    return (doc: StoredDoc) => pick(field, doc, spec.order);
  });
}

function pick(field: ResolvedField, doc: StoredDoc, order: 'asc' | 'desc'): SortValue {
  const terms = termsOf(doc.source, field);
  if (terms.length === 0) return null;
  let best: SortValue = null;
  for (const term of terms) {
    const value: number | string = typeof term === 'boolean' ? (term ? 1 : 0) : term;
    if (best === null || (order === 'asc' ? value < best : value > best)) best = value;
  }
  return best;
}

/** Compares two rows of sort values under `specs` (missing values placed per `missing`). */
export function compareSortValues(specs: SortSpec[], a: SortValue[], b: SortValue[]): number {
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i]!;
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null || y === null) {
      const missingFirst = spec.missing === '_first';
      return (x === null) === missingFirst ? -1 : 1;
    }
    const cmp = x < y ? -1 : x > y ? 1 : 0;
    if (cmp !== 0) return spec.order === 'asc' ? cmp : -cmp;
  }
  return 0;
}

/** Fills a missing value with `missing` (a custom value) before sorting. */
export function applyMissing(specs: SortSpec[], values: SortValue[]): SortValue[] {
  return values.map((value, i) => {
    const missing = specs[i]!.missing;
    if (value !== null || missing === '_last' || missing === '_first') return value;
    return missing;
  });
}

/** How a sort value is rendered in a hit's `sort` array. */
export function renderSortValue(spec: SortSpec, value: SortValue, field: ResolvedField | undefined): unknown {
  if (value !== null) return value;
  if (field === undefined || !NUMERIC.has(field.type)) return null;
  const high = spec.order === 'asc' ? spec.missing !== '_first' : spec.missing === '_first';
  if (field.type === 'double' || field.type === 'float' || field.type === 'half_float' || field.type === 'scaled_float') {
    return high ? 'Infinity' : '-Infinity';
  }
  return high ? LONG_MAX : LONG_MIN;
}

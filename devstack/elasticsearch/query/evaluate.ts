import { EsError, parsingException, type EsCause } from '../errors.ts';
import { convertValue, type IndexedValue } from '../mapping/field-values.ts';
import { parseDateValue } from '../mapping/date-formats.ts';
import { isPlainObject, type ResolvedField } from '../mapping/mapping-tree.ts';
import type { IndexStore, StoredDoc } from '../store/index-store.ts';
import { analyze } from './analyzer.ts';
import { termsOf, valuesAt } from './field-access.ts';

/**
 * Compiles the query DSL subset the devstack supports into a predicate over stored documents, per index (field
 * types come from that index's mapping):
 * match_all, match_none, term, terms, ids, range, exists, match, prefix, bool (must/filter/should/must_not,
 * minimum_should_match), constant_score.
 *
 * Semantics follow the index, not the `_source`: `term` on a `text` field compares against lowercase tokens (so
 * `term: {name: "Alice"}` finds nothing, as on a real node), `keyword` values over `ignore_above` are not indexed,
 * `float` fields compare in single precision, dates as epoch millis. A malformed query is a 400
 * `parsing_exception`; a value a field cannot hold is a shard failure (`query_shard_exception`).
 */

export type Predicate = (doc: StoredDoc) => boolean;

export interface CompiledQuery {
  matches: Predicate;
  /** True when only filter clauses decide the result (ES scores such hits 0). */
  filterOnly: boolean;
}

/** A query error that happens "on the shard": wrapped in search_phase_execution_exception by the caller. */
export class ShardQueryError extends Error {
  override readonly cause: EsCause;
  constructor(cause: EsCause) {
    super(cause.reason ?? cause.type);
    this.cause = cause;
  }
}

export function compileQuery(query: unknown, index: IndexStore): CompiledQuery {
  if (query === undefined) return { matches: () => true, filterOnly: false };
  const compiled = compile(query, index);
  return { matches: compiled.predicate, filterOnly: compiled.filterOnly };
}

interface Compiled {
  predicate: Predicate;
  filterOnly: boolean;
}

function compile(query: unknown, index: IndexStore): Compiled {
  if (!isPlainObject(query)) throw parsingException('[_na] query malformed, must start with start_object');
  const keys = Object.keys(query);
  if (keys.length !== 1) {
    throw parsingException(keys.length === 0 ? 'query malformed, empty clause found' : `[${keys[0]}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]`);
  }
  const type = keys[0]!;
  const body = query[type];
  const scored = (predicate: Predicate): Compiled => ({ predicate, filterOnly: false });
  switch (type) {
    case 'match_all':
      return scored(() => true);
    case 'match_none':
      return scored(() => false);
    case 'term':
      return scored(termQuery(body, index));
    case 'terms':
      return scored(termsQuery(body, index));
    case 'ids': {
      const values = isPlainObject(body) ? body['values'] : undefined;
      if (!Array.isArray(values)) throw parsingException('[ids] query malformed, no [values] field');
      const ids = new Set(values.map(String));
      return scored((doc) => ids.has(doc.id));
    }
    case 'range':
      return scored(rangeQuery(body, index));
    case 'exists': {
      const field = isPlainObject(body) ? body['field'] : undefined;
      if (typeof field !== 'string') throw parsingException('[exists] must be provided with a [field]');
      return scored(existsQuery(field, index));
    }
    case 'match':
      return scored(matchQuery(body, index));
    case 'prefix':
      return scored(prefixQuery(body, index));
    case 'constant_score': {
      const filter = isPlainObject(body) ? body['filter'] : undefined;
      if (filter === undefined) throw parsingException('[constant_score] requires a \'filter\' element');
      return scored(compile(filter, index).predicate);
    }
    case 'bool':
      return boolQuery(body, index);
    default:
      throw new EsError(400, {
        type: 'parsing_exception',
        reason: `unknown query [${type}]`,
        caused_by: { type: 'named_object_not_found_exception', reason: `[1:1] unknown field [${type}]` },
      });
  }
}

function boolQuery(body: unknown, index: IndexStore): Compiled {
  if (!isPlainObject(body)) throw parsingException('[bool] query malformed');
  const clauses = (name: string): Predicate[] => {
    const value = body[name];
    if (value === undefined) return [];
    return (Array.isArray(value) ? value : [value]).map((q) => compile(q, index).predicate);
  };
  for (const key of Object.keys(body)) {
    if (!['must', 'filter', 'should', 'must_not', 'minimum_should_match', 'boost', '_name', 'adjust_pure_negative'].includes(key)) {
      throw parsingException(`[bool] query does not support [${key}]`);
    }
  }
  const must = clauses('must');
  const filter = clauses('filter');
  const should = clauses('should');
  const mustNot = clauses('must_not');
  const msmRaw = body['minimum_should_match'];
  let minimumShould = must.length + filter.length === 0 && should.length > 0 ? 1 : 0;
  if (msmRaw !== undefined) {
    const text = String(msmRaw);
    minimumShould = text.endsWith('%')
      ? Math.floor((should.length * Number(text.slice(0, -1))) / 100)
      : Number(text) < 0 ? should.length + Number(text) : Number(text);
  }
  const all = [...must, ...filter];
  return {
    filterOnly: must.length === 0 && should.length === 0,
    predicate: (doc) => {
      for (const p of all) if (!p(doc)) return false;
      for (const p of mustNot) if (p(doc)) return false;
      if (minimumShould > 0) {
        let matched = 0;
        for (const p of should) if (p(doc) && ++matched >= minimumShould) break;
        if (matched < minimumShould) return false;
      }
      return true;
    },
  };
}

/** `{field: value}` or `{field: {value, boost, case_insensitive}}` (term, prefix, match share this shape). */
function fieldAndValue(type: string, body: unknown, valueKey: string): { field: string; value: unknown; options: Record<string, unknown> } {
  if (!isPlainObject(body)) throw parsingException(`[${type}] query malformed, no start_object after query name`);
  const entries = Object.entries(body).filter(([key]) => key !== 'boost' && key !== '_name');
  if (entries.length !== 1) throw parsingException(`[${type}] query doesn't support multiple fields, found [${entries.map(([k]) => k).join('] and [')}]`);
  const [field, spec] = entries[0]!;
  if (isPlainObject(spec)) {
    if (!(valueKey in spec)) throw parsingException(`[${type}] query does not support [${Object.keys(spec)[0] ?? ''}]`);
    return { field, value: spec[valueKey], options: spec };
  }
  if (Array.isArray(spec)) throw parsingException(`[${type}] query does not support array of values`);
  return { field, value: spec, options: {} };
}

function shardFailure(index: IndexStore, reason: string, cause?: EsCause): ShardQueryError {
  const failure: EsCause = { type: 'query_shard_exception', reason, index_uuid: index.uuid, index: index.name };
  if (cause !== undefined) failure.caused_by = cause;
  return new ShardQueryError(failure);
}

/** Converts a query value for a field, as the field type's `termQuery` does. */
function queryTerm(field: ResolvedField, value: unknown, index: IndexStore): IndexedValue {
  if (value === null || typeof value === 'object') throw parsingException(`[term] query does not support [${JSON.stringify(value)}]`);
  const converted = convertValue(field, value as string | number | boolean);
  if (!converted.ok) throw shardFailure(index, `failed to create query: ${converted.cause.reason ?? ''}`, converted.cause);
  if (converted.value === null) throw shardFailure(index, 'failed to create query: empty value');
  return converted.value;
}

function metadataPredicate(field: string, values: unknown[], index: IndexStore): Predicate | undefined {
  if (field === '_id') {
    const ids = new Set(values.map(String));
    return (doc) => ids.has(doc.id);
  }
  if (field === '_index') {
    const hit = values.map(String).includes(index.name);
    return () => hit;
  }
  return undefined;
}

function termQuery(body: unknown, index: IndexStore): Predicate {
  const { field, value, options } = fieldAndValue('term', body, 'value');
  const meta = metadataPredicate(field, [value], index);
  if (meta !== undefined) return meta;
  const resolved = index.fields.get(field);
  if (resolved === undefined) return () => false;
  const wanted = queryTerm(resolved, value, index);
  if (options['case_insensitive'] === true && typeof wanted === 'string') {
    const lower = wanted.toLowerCase();
    return (doc) => termsOf(doc.source, resolved).some((t) => typeof t === 'string' && t.toLowerCase() === lower);
  }
  return (doc) => termsOf(doc.source, resolved).includes(wanted);
}

function termsQuery(body: unknown, index: IndexStore): Predicate {
  if (!isPlainObject(body)) throw parsingException('[terms] query malformed');
  const entries = Object.entries(body).filter(([key]) => key !== 'boost' && key !== '_name');
  if (entries.length !== 1) throw parsingException('[terms] query does not support multiple fields');
  const [field, values] = entries[0]!;
  if (!Array.isArray(values)) throw parsingException(`[terms] query does not support [${field}]`);
  const meta = metadataPredicate(field, values, index);
  if (meta !== undefined) return meta;
  const resolved = index.fields.get(field);
  if (resolved === undefined) return () => false;
  const wanted = new Set(values.map((v) => queryTerm(resolved, v, index)));
  return (doc) => termsOf(doc.source, resolved).some((t) => wanted.has(t));
}

function rangeQuery(body: unknown, index: IndexStore): Predicate {
  if (!isPlainObject(body)) throw parsingException('[range] query malformed');
  const entries = Object.entries(body);
  if (entries.length !== 1) throw parsingException('[range] query doesn\'t support multiple fields');
  const [field, spec] = entries[0]!;
  if (!isPlainObject(spec)) throw parsingException(`[range] query does not support [${field}]`);
  const resolved = index.fields.get(field);
  if (resolved === undefined) return () => false;
  const format = typeof spec['format'] === 'string' ? spec['format'] : resolved.format;
  const bound = (key: string): IndexedValue | undefined => {
    const value = spec[key];
    if (value === undefined || value === null) return undefined;
    if (resolved.type === 'date' || resolved.type === 'date_nanos') {
      const millis = typeof value === 'string' && value.startsWith('now') ? dateMath(value) : parseDateValue(value as string | number, format);
      if (millis === undefined) throw shardFailure(index, `failed to parse date field [${String(value)}] with format [${format ?? 'strict_date_optional_time||epoch_millis'}]`);
      return millis;
    }
    if (resolved.type === 'text' || resolved.type === 'match_only_text') return String(value);
    return queryTerm(resolved, value, index);
  };
  for (const key of Object.keys(spec)) {
    if (!['gt', 'gte', 'lt', 'lte', 'from', 'to', 'include_lower', 'include_upper', 'format', 'boost', 'time_zone', 'relation', '_name'].includes(key)) {
      throw parsingException(`[range] query does not support [${key}]`);
    }
  }
  const gt = bound('gt');
  const gte = bound('gte') ?? (spec['include_lower'] === false ? undefined : bound('from'));
  const lt = bound('lt');
  const lte = bound('lte') ?? (spec['include_upper'] === false ? undefined : bound('to'));
  const inRange = (t: IndexedValue): boolean =>
    (gt === undefined || t > gt) && (gte === undefined || t >= gte) && (lt === undefined || t < lt) && (lte === undefined || t <= lte);
  return (doc) => termsOf(doc.source, resolved).some(inRange);
}

/** `now`, `now-1d`, `now+2h` (no rounding). */
function dateMath(expression: string): number | undefined {
  let millis = Date.now();
  const rest = expression.slice(3);
  const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, H: 3_600_000, d: 86_400_000, w: 604_800_000, M: 2_592_000_000, y: 31_536_000_000 };
  for (const m of rest.matchAll(/([+-])(\d+)([smhHdwMy])/g)) {
    millis += (m[1] === '-' ? -1 : 1) * Number(m[2]) * units[m[3]!]!;
  }
  return millis;
}

function existsQuery(field: string, index: IndexStore): Predicate {
  if (index.objectFields.has(field)) {
    const children = [...index.fields.entries()].filter(([path]) => path.startsWith(`${field}.`)).map(([, f]) => f);
    return (doc) => children.some((child) => termsOf(doc.source, child).length > 0);
  }
  if (field === '_id' || field === '_index') return () => true;
  const resolved = index.fields.get(field);
  if (resolved === undefined) return () => false;
  return (doc) => valuesAt(doc.source, resolved.sourcePath).some((v) => v !== null && typeof v !== 'object');
}

function matchQuery(body: unknown, index: IndexStore): Predicate {
  const { field, value, options } = fieldAndValue('match', body, 'query');
  const meta = metadataPredicate(field, [value], index);
  if (meta !== undefined) return meta;
  const resolved = index.fields.get(field);
  if (resolved === undefined) return () => false;
  if (resolved.type !== 'text' && resolved.type !== 'match_only_text') {
    const wanted = queryTerm(resolved, value, index);
    return (doc) => termsOf(doc.source, resolved).includes(wanted);
  }
  const tokens = analyze(String(value));
  if (tokens.length === 0) return () => false;
  const all = String(options['operator'] ?? 'or').toLowerCase() === 'and';
  return (doc) => {
    const terms = termsOf(doc.source, resolved);
    return all ? tokens.every((t) => terms.includes(t)) : tokens.some((t) => terms.includes(t));
  };
}

function prefixQuery(body: unknown, index: IndexStore): Predicate {
  const { field, value, options } = fieldAndValue('prefix', body, 'value');
  const resolved = index.fields.get(field);
  if (field === '_id') return (doc) => doc.id.startsWith(String(value));
  if (resolved === undefined) return () => false;
  const insensitive = options['case_insensitive'] === true;
  const prefix = insensitive ? String(value).toLowerCase() : String(value);
  return (doc) => termsOf(doc.source, resolved).some((t) => (insensitive ? String(t).toLowerCase() : String(t)).startsWith(prefix));
}

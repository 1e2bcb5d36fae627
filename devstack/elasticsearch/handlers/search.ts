import { EsError, illegalArgument, parsingException, searchPhaseFailure } from '../errors.ts';
import type { EsReply, EsRequest } from '../http-types.ts';
import { isPlainObject } from '../mapping/mapping-tree.ts';
import { compileQuery, ShardQueryError } from '../query/evaluate.ts';
import { applyMissing, compareSortValues, parseSort, renderSortValue, sortReaders, type SortValue } from '../query/sort.ts';
import { boolParam, intParam, jsonBody } from '../request-body.ts';
import { sourceFilterFromBody, sourceFilterFromQuery } from '../source-filter.ts';
import type { IndexStore, StoredDoc } from '../store/index-store.ts';

/**
 * `_search` and `_count` over the searchable view of each index (what the last refresh published).
 * Scores are not computed: every hit scores 1.0 (0.0 under filter-only queries), so only sorted results have an
 * order to rely on — the same advice that holds against a real node.
 */

const SEARCH_KEYS = new Set([
  'query', 'size', 'from', 'sort', '_source', 'track_total_hits', 'seq_no_primary_term', 'version', 'search_after',
  'timeout', 'track_scores', 'stats', 'explain', 'min_score', 'terminate_after', 'profile',
]);

interface Row {
  index: IndexStore;
  doc: StoredDoc;
  values: SortValue[];
  order: number;
}

export function search(request: EsRequest): EsReply {
  const started = performance.now();
  const body = searchBody(request);
  for (const key of Object.keys(body)) {
    if (key === 'aggs' || key === 'aggregations') throw illegalArgument('the devstack Elasticsearch server does not support aggregations');
    if (!SEARCH_KEYS.has(key)) throw parsingException(`Unknown key for a START_OBJECT in [${key}].`);
  }
  const q = request.query;
  const size = intParam(q, 'size') ?? numberField(body, 'size') ?? 10;
  const from = intParam(q, 'from') ?? numberField(body, 'from') ?? 0;
  if (size < 0) throw illegalArgument(`[size] parameter cannot be negative, found [${size}]`);
  if (from < 0) throw illegalArgument(`[from] parameter cannot be negative, found [${from}]`);
  const sort = parseSort(body['sort'], q.get('sort'));
  const source = q.has('_source') || q.has('_source_includes') || q.has('_source_excludes')
    ? sourceFilterFromQuery(q)
    : sourceFilterFromBody(body['_source']);
  const trackTotal = totalHitsMode(q.get('track_total_hits') ?? body['track_total_hits']);
  const seqNo = boolParam(q, 'seq_no_primary_term') ?? body['seq_no_primary_term'] === true;
  const version = boolParam(q, 'version') ?? body['version'] === true;
  const searchAfter = body['search_after'];
  if (searchAfter !== undefined && (!Array.isArray(searchAfter) || searchAfter.length !== sort.length)) {
    throw illegalArgument(`search_after has ${Array.isArray(searchAfter) ? searchAfter.length : 0} value(s) but sort has ${sort.length}.`);
  }
  const indices = resolve(request);

  const rows: Row[] = [];
  let filterOnly = false;
  for (const index of indices) {
    if (from + size > index.settings.maxResultWindow) {
      throw searchPhaseFailure(index.name, request.cluster.nodeId, {
        type: 'illegal_argument_exception',
        reason: `Result window is too large, from + size must be less than or equal to: [${index.settings.maxResultWindow}] but was [${from + size}]. ` +
          'See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.',
      });
    }
    try {
      const compiled = compileQuery(body['query'], index);
      filterOnly = compiled.filterOnly;
      const readers = sortReaders(sort, index);
      let position = 0;
      for (const doc of index.searcher().values()) {
        const at = position++;
        if (!compiled.matches(doc)) continue;
        rows.push({ index, doc, values: applyMissing(sort, readers.map((read) => read(doc, at))), order: rows.length });
      }
    } catch (err) {
      if (err instanceof ShardQueryError) throw searchPhaseFailure(index.name, request.cluster.nodeId, err.cause);
      throw err;
    }
  }
  if (sort.length > 0) rows.sort((a, b) => compareSortValues(sort, a.values, b.values) || a.order - b.order);
  let candidates = rows;
  if (Array.isArray(searchAfter)) {
    const after = searchAfter as SortValue[];
    candidates = rows.filter((row) => compareSortValues(sort, row.values, after) > 0);
  }

  const scored = sort.length === 0 || body['track_scores'] === true;
  const score = filterOnly ? 0 : 1;
  const hits = candidates.slice(from, from + size).map((row) => {
    const hit: Record<string, unknown> = { _index: row.index.name, _id: row.doc.id };
    if (version) hit['_version'] = row.doc.version;
    if (seqNo) {
      hit['_seq_no'] = row.doc.seqNo;
      hit['_primary_term'] = row.doc.primaryTerm;
    }
    hit['_score'] = scored ? score : null;
    if (source !== false) hit['_source'] = source === undefined ? row.doc.source : source(row.doc.source);
    if (sort.length > 0) hit['sort'] = sort.map((spec, i) => renderSortValue(spec, row.values[i] ?? null, row.index.fields.get(spec.name)));
    return hit;
  });

  const hitsBody: Record<string, unknown> = {};
  const total = candidates.length;
  if (trackTotal !== false) {
    const restTotalAsInt = boolParam(q, 'rest_total_hits_as_int') === true;
    const limited = trackTotal !== true && total > trackTotal;
    hitsBody['total'] = restTotalAsInt ? total : { value: limited ? trackTotal : total, relation: limited ? 'gte' : 'eq' };
  }
  hitsBody['max_score'] = scored && hits.length > 0 ? score : null;
  hitsBody['hits'] = hits;
  return {
    status: 200,
    body: {
      took: Math.round(performance.now() - started),
      timed_out: false,
      _shards: shards(indices),
      hits: hitsBody,
    },
  };
}

export function count(request: EsRequest): EsReply {
  const body = searchBody(request);
  for (const key of Object.keys(body)) {
    if (key !== 'query') throw parsingException(`request does not support [${key}]`);
  }
  const indices = resolve(request);
  let total = 0;
  for (const index of indices) {
    try {
      const compiled = compileQuery(body['query'], index);
      for (const doc of index.searcher().values()) if (compiled.matches(doc)) total += 1;
    } catch (err) {
      if (err instanceof ShardQueryError) throw searchPhaseFailure(index.name, request.cluster.nodeId, err.cause);
      throw err;
    }
  }
  return { status: 200, body: { count: total, _shards: shards(indices) } };
}

function searchBody(request: EsRequest): Record<string, unknown> {
  const body = jsonBody(request);
  if (body === undefined) {
    const q = request.query.get('q');
    return q === null ? {} : { query: queryStringQuery(q) };
  }
  if (!isPlainObject(body)) throw parsingException('Expected [START_OBJECT] but found [START_ARRAY]');
  return body;
}

/** The `q=` shorthand, minimally: `field:value` (a match query) or `*`. */
function queryStringQuery(q: string): Record<string, unknown> {
  if (q === '*' || q === '*:*') return { match_all: {} };
  const colon = q.indexOf(':');
  if (colon <= 0) throw illegalArgument('the devstack Elasticsearch server supports only q=field:value and q=*');
  return { match: { [q.slice(0, colon)]: q.slice(colon + 1) } };
}

function resolve(request: EsRequest): IndexStore[] {
  const ignoreUnavailable = boolParam(request.query, 'ignore_unavailable') ?? false;
  return request.cluster.resolve(request.params['index'], { ignoreUnavailable });
}

function shards(indices: IndexStore[]): { total: number; successful: number; skipped: number; failed: number } {
  const total = indices.reduce((sum, index) => sum + index.settings.numberOfShards, 0);
  return { total, successful: total, skipped: 0, failed: 0 };
}

function numberField(body: Record<string, unknown>, key: string): number | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw parsingException(`[${key}] failed to parse field, expected an integer`);
  return value;
}

function totalHitsMode(value: unknown): true | false | number {
  if (value === undefined || value === null) return 10_000;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new EsError(400, { type: 'illegal_argument_exception', reason: `Failed to parse int parameter [track_total_hits] with value [${String(value)}]` });
  return n;
}

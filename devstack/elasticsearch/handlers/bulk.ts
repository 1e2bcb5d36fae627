import { actionRequestValidation, EsError, illegalArgument, indexNotFound, rejectedExecution, unparsableBody, type EsCause } from '../errors.ts';
import type { EsReply, EsRequest } from '../http-types.ts';
import { isPlainObject } from '../mapping/mapping-tree.ts';
import { refreshPolicy } from '../request-body.ts';
import type { IndexOptions, IndexStore, UpdateBody } from '../store/index-store.ts';
import { autoId, checkId, parseUpdateBody, versionOptions, writeResponse } from './documents.ts';

/**
 * `POST /_bulk` and `POST /{index}/_bulk`: NDJSON action/source pairs, one response item per action in request
 * order, `errors: true` when any item failed. Items are applied one after another, so a later item sees the
 * mapping and versions an earlier one left (as within one shard of a real node).
 *
 * Hot path, measured on the 2-core dev machine (1,000 four-field documents per bulk, 200 bulks into one index,
 * handler + response JSON.stringify): median 5.5 ms, p90 8.7 ms; a raw loop doing only the JSON.parse per line,
 * a Map.set per document and the response stringify took 2.7 ms / 5.9 ms in the same run (ratio ~2). Nothing is
 * copied or re-serialised per document; JSON.parse of the lines is the largest single cost.
 */

type Action = 'index' | 'create' | 'update' | 'delete';
const ACTIONS = new Set<string>(['index', 'create', 'update', 'delete']);

interface ParsedItem {
  action: Action;
  index: string;
  id: string | undefined;
  options: IndexOptions;
  source?: Record<string, unknown>;
  sourceText?: string;
  update?: UpdateBody;
}

export async function bulk(request: EsRequest): Promise<EsReply> {
  const started = performance.now();
  const refresh = refreshPolicy(request.query);
  const items = parseBulkBody(request.body.toString('utf8'), request.params['index']);
  const reject = request.faults.bulkItemRejector();
  const touched = new Set<IndexStore>();
  const results: Array<Record<string, Record<string, unknown>>> = new Array(items.length);
  let errors = false;

  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const id = item.id ?? (item.action === 'index' || item.action === 'create' ? autoId() : undefined) ?? '';
    if (reject !== undefined && reject()) {
      errors = true;
      results[i] = failedItem(item, id, 429, rejectedExecution('primary operation [shard bulk item] (per-item rejection)'));
      continue;
    }
    let index: IndexStore;
    try {
      const external = item.options.versionType === 'external' || item.options.versionType === 'external_gte';
      index = item.action === 'delete' && !external ? requireIndex(request, item.index) : request.cluster.forWrite(item.index);
    } catch (err) {
      if (!(err instanceof EsError)) throw err;
      errors = true;
      results[i] = failedItem(item, id, err.status, err.cause);
      continue;
    }
    let outcome;
    switch (item.action) {
      case 'index':
      case 'create': {
        const text = item.sourceText!;
        const options = item.id === undefined ? { ...item.options, opType: 'create' as const } : item.options;
        outcome = index.index(id, item.source!, () => text, options);
        break;
      }
      case 'update':
        outcome = index.update(id, item.update!, item.options);
        break;
      case 'delete': {
        const { opType: _opType, ...options } = item.options;
        outcome = index.delete(id, options);
        break;
      }
    }
    if (!outcome.ok) {
      errors = true;
      results[i] = failedItem(item, id, outcome.status, outcome.cause);
      continue;
    }
    touched.add(index);
    results[i] = { [item.action]: { ...writeResponse(index, outcome, false), status: outcome.status } };
  }

  if (refresh === 'true') {
    for (const index of touched) index.refresh();
    for (const result of results) {
      const body = Object.values(result)[0]!;
      if (body['error'] === undefined && body['result'] !== 'noop') body['forced_refresh'] = true;
    }
  } else if (refresh === 'wait_for') {
    await Promise.all([...touched].map((index) => index.waitForRefresh()));
  }
  return { status: 200, body: { errors, took: Math.round(performance.now() - started), items: results } };
}

function failedItem(item: ParsedItem, id: string, status: number, cause: EsCause): Record<string, Record<string, unknown>> {
  return { [item.action]: { _index: item.index, _id: id, status, error: cause } };
}

function requireIndex(request: EsRequest, name: string): IndexStore {
  const index = request.cluster.get(name);
  if (index === undefined) throw indexNotFound(name);
  return index;
}

/** Splits and validates the NDJSON body; a malformed body fails the whole request, as on a real node. */
function parseBulkBody(text: string, defaultIndex: string | undefined): ParsedItem[] {
  if (text.length > 0 && !text.endsWith('\n')) throw illegalArgument('The bulk request must be terminated by a newline [\\n]');
  const lines = text.split('\n');
  const items: ParsedItem[] = [];
  const problems: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const header = parseLine(line, i);
    const keys = isPlainObject(header) ? Object.keys(header) : [];
    const action = keys[0];
    if (keys.length !== 1 || action === undefined || !ACTIONS.has(action)) {
      throw illegalArgument(`Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${action ?? ''}]`);
    }
    const meta = (header as Record<string, unknown>)[action];
    if (!isPlainObject(meta)) throw illegalArgument(`Malformed action/metadata line [${i + 1}], expected START_OBJECT but found [${typeof meta}]`);
    const index = typeof meta['_index'] === 'string' ? meta['_index'] : defaultIndex;
    if (index === undefined) {
      problems.push('index is missing');
      continue;
    }
    const id = meta['_id'] === undefined || meta['_id'] === null ? undefined : String(meta['_id']);
    if (id !== undefined) checkId(id);
    const options = versionOptions(
      { opType: action === 'create' ? 'create' : 'index' },
      typeof meta['version'] === 'number' ? meta['version'] : undefined,
      typeof meta['version_type'] === 'string' ? meta['version_type'] : null,
      typeof meta['if_seq_no'] === 'number'
        ? { ifSeqNo: meta['if_seq_no'], ifPrimaryTerm: typeof meta['if_primary_term'] === 'number' ? meta['if_primary_term'] : 0 }
        : {},
    );
    const item: ParsedItem = { action: action as Action, index, id, options };
    if (action !== 'delete') {
      i += 1;
      const sourceLine = lines[i];
      if (sourceLine === undefined || sourceLine.trim() === '') {
        throw illegalArgument(`The bulk request must be terminated by a newline [\\n]`);
      }
      const source = parseLine(sourceLine, i);
      if (!isPlainObject(source)) throw unparsableBody(`[1:1] Malformed content, found extra data after parsing: ${typeof source}`);
      if (action === 'update') {
        if (id === undefined) problems.push('id is missing');
        item.update = parseUpdateBody(source);
      } else {
        item.source = source;
        item.sourceText = sourceLine;
      }
    } else if (id === undefined) {
      problems.push('id is missing');
    }
    items.push(item);
  }
  if (problems.length > 0) throw actionRequestValidation(problems);
  if (items.length === 0) throw actionRequestValidation(['no requests added']);
  return items;
}

function parseLine(line: string, index: number): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch (err) {
    throw unparsableBody(`[${index + 1}:1] Unexpected character in bulk line ${index + 1}: ${(err as Error).message}`);
  }
}

import { randomBytes } from 'node:crypto';
import { actionRequestValidation, EsError, illegalArgument, indexNotFound } from '../errors.ts';
import type { EsReply, EsRequest } from '../http-types.ts';
import { isPlainObject } from '../mapping/mapping-tree.ts';
import { intParam, objectBody, refreshPolicy, type RefreshPolicy } from '../request-body.ts';
import { sourceFilterFromQuery } from '../source-filter.ts';
import type { IndexOptions, IndexStore, UpdateBody, WriteOutcome } from '../store/index-store.ts';

/** Single-document APIs: index, create, get, exists, delete, update, `_source`. */

export function indexDocument(opType: 'index' | 'create' | 'auto') {
  return async (request: EsRequest): Promise<EsReply> => {
    const source = objectBody(request, 'source');
    const options = writeOptions(request.query, opType === 'auto' ? 'create' : opType);
    const refresh = refreshPolicy(request.query);
    const id = opType === 'auto' ? autoId() : request.params['id']!;
    checkId(id);
    const index = request.cluster.forWrite(request.params['index']!);
    const outcome = index.index(id, source, () => request.body.toString('utf8'), options);
    return finishWrite(index, outcome, refresh);
  };
}

export async function updateDocument(request: EsRequest): Promise<EsReply> {
  const body = parseUpdateBody(objectBody(request, 'script or doc'));
  const refresh = refreshPolicy(request.query);
  const id = request.params['id']!;
  checkId(id);
  const index = request.cluster.forWrite(request.params['index']!);
  const seq = sequenceOptions(request.query);
  const outcome = index.update(id, body, seq);
  return finishWrite(index, outcome, refresh);
}

export async function deleteDocument(request: EsRequest): Promise<EsReply> {
  const refresh = refreshPolicy(request.query);
  const options = writeOptions(request.query, 'index');
  const name = request.params['index']!;
  const external = options.versionType === 'external' || options.versionType === 'external_gte';
  // ES does not auto-create an index for a delete (unless externally versioned).
  const index = external ? request.cluster.forWrite(name) : request.cluster.require(name);
  const { opType: _opType, ...deleteOptions } = options;
  const outcome = index.delete(request.params['id']!, deleteOptions);
  return finishWrite(index, outcome, refresh);
}

export function getDocument(request: EsRequest): EsReply {
  const index = request.cluster.get(request.params['index']!);
  if (index === undefined) throw indexNotFound(request.params['index']!);
  const id = request.params['id']!;
  const doc = index.get(id);
  if (doc === undefined) return { status: 404, body: { _index: index.name, _id: id, found: false } };
  const body: Record<string, unknown> = {
    _index: index.name, _id: id, _version: doc.version, _seq_no: doc.seqNo, _primary_term: doc.primaryTerm, found: true,
  };
  const filter = sourceFilterFromQuery(request.query);
  if (filter !== false) body['_source'] = filter === undefined ? doc.source : filter(doc.source);
  return { status: 200, body };
}

export function documentExists(request: EsRequest): EsReply {
  const index = request.cluster.get(request.params['index']!);
  if (index === undefined) throw indexNotFound(request.params['index']!);
  return { status: index.get(request.params['id']!) === undefined ? 404 : 200 };
}

export function getSource(request: EsRequest): EsReply {
  const index = request.cluster.require(request.params['index']!);
  const id = request.params['id']!;
  const doc = index.get(id);
  if (doc === undefined) {
    throw new EsError(404, { type: 'resource_not_found_exception', reason: `Document not found [${index.name}]/[_doc]/[${id}]` });
  }
  const filter = sourceFilterFromQuery(request.query);
  return { status: 200, body: filter === undefined || filter === false ? doc.source : filter(doc.source) };
}

/** The response of a write, or the REST error of a failed one; applies `refresh`. */
async function finishWrite(index: IndexStore, outcome: WriteOutcome, refresh: RefreshPolicy): Promise<EsReply> {
  if (!outcome.ok) throw new EsError(outcome.status, outcome.cause);
  const forced = refresh === 'true' && outcome.result !== 'noop';
  if (forced) index.refresh();
  else if (refresh === 'wait_for' && outcome.result !== 'noop') await index.waitForRefresh();
  return { status: outcome.status, body: writeResponse(index, outcome, forced) };
}

/** The shape of a write result, shared with bulk items (which add `status`). */
export function writeResponse(index: IndexStore, outcome: Extract<WriteOutcome, { ok: true }>, forcedRefresh: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    _index: index.name,
    _id: outcome.id,
    _version: outcome.version,
    result: outcome.result,
  };
  if (forcedRefresh) body['forced_refresh'] = true;
  body['_shards'] = outcome.result === 'noop' ? { total: 0, successful: 0, failed: 0 } : index.writeShards;
  body['_seq_no'] = outcome.seqNo;
  body['_primary_term'] = outcome.primaryTerm;
  return body;
}

/** `op_type`, `version`/`version_type`, `if_seq_no`/`if_primary_term`, validated as ES does. */
export function writeOptions(query: URLSearchParams, defaultOpType: 'index' | 'create'): IndexOptions {
  const opTypeParam = query.get('op_type');
  if (opTypeParam !== null && opTypeParam !== 'index' && opTypeParam !== 'create') {
    throw illegalArgument(`opType must be 'create' or 'index', found: [${opTypeParam}]`);
  }
  const pipeline = query.get('pipeline');
  if (pipeline !== null && pipeline !== '' && pipeline !== '_none') {
    throw illegalArgument(`pipeline with id [${pipeline}] does not exist`);
  }
  return versionOptions(
    { opType: defaultOpType === 'create' ? 'create' : (opTypeParam ?? 'index') as 'index' | 'create' },
    intParam(query, 'version'),
    query.get('version_type'),
    sequenceOptions(query),
  );
}

export function versionOptions(
  base: IndexOptions,
  version: number | undefined,
  versionType: string | null,
  seq: Pick<IndexOptions, 'ifSeqNo' | 'ifPrimaryTerm'>,
): IndexOptions {
  const options: IndexOptions = { ...base, ...seq };
  if (versionType !== null && versionType !== 'internal' && versionType !== 'external' && versionType !== 'external_gte') {
    throw illegalArgument(`No version type match [${versionType}]`);
  }
  if (versionType === 'external' || versionType === 'external_gte') {
    if (version === undefined) throw actionRequestValidation(['an external version is required']);
    options.version = version;
    options.versionType = versionType;
  } else if (version !== undefined) {
    throw actionRequestValidation([
      'internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead',
    ]);
  }
  return options;
}

export function sequenceOptions(query: URLSearchParams): Pick<IndexOptions, 'ifSeqNo' | 'ifPrimaryTerm'> {
  const ifSeqNo = intParam(query, 'if_seq_no');
  const ifPrimaryTerm = intParam(query, 'if_primary_term');
  if ((ifSeqNo === undefined) !== (ifPrimaryTerm === undefined)) {
    throw actionRequestValidation([ifSeqNo === undefined ? 'ifSeqNo is unassigned, but primary term is [' + String(ifPrimaryTerm) + ']' : 'ifSeqNo is set, but primary term is [0]']);
  }
  return ifSeqNo === undefined ? {} : { ifSeqNo, ifPrimaryTerm: ifPrimaryTerm! };
}

/** Validates an update body (`doc`, `upsert`, `doc_as_upsert`, `detect_noop`); scripts are not supported. */
export function parseUpdateBody(body: Record<string, unknown>): UpdateBody {
  if (body['script'] !== undefined) {
    throw illegalArgument('the devstack Elasticsearch server does not run scripts; send a partial "doc" instead');
  }
  const out: UpdateBody = {};
  for (const [key, value] of Object.entries(body)) {
    switch (key) {
      case 'doc':
      case 'upsert':
        if (!isPlainObject(value)) throw new EsError(400, { type: 'x_content_parse_exception', reason: `[1:2] [UpdateRequest] failed to parse field [${key}]` });
        out[key] = value;
        break;
      case 'doc_as_upsert':
      case 'detect_noop':
        out[key] = value === true || value === 'true';
        break;
      case '_source':
      case 'scripted_upsert':
        break;
      default:
        throw new EsError(400, { type: 'x_content_parse_exception', reason: `[1:2] [UpdateRequest] unknown field [${key}]` });
    }
  }
  if (out.doc === undefined && out.upsert === undefined) throw actionRequestValidation(['script or doc is missing']);
  if (out.doc_as_upsert === true && out.doc === undefined) throw actionRequestValidation(['doc must be specified if doc_as_upsert is enabled']);
  return out;
}

/** ES ids are at most 512 bytes. */
export function checkId(id: string): void {
  if (Buffer.byteLength(id) > 512) {
    throw actionRequestValidation([`id [${id}] is too long, must be no longer than 512 bytes but was: ${Buffer.byteLength(id)}`]);
  }
}

/** A 20-character base64url id, the length and alphabet of ES's time-based auto ids. */
export function autoId(): string {
  return randomBytes(15).toString('base64url');
}

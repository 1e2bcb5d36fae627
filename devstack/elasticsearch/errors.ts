/**
 * Elasticsearch error bodies, built the way a real 8.x node renders its exceptions.
 *
 * A REST error is `{"error":{"root_cause":[…],"type","reason",…metadata,"caused_by"?},"status":N}`; a bulk item
 * failure is the inner object alone (no `root_cause`). `root_cause` repeats the top exception without its
 * `caused_by`, because `ElasticsearchException.guessRootCauses` stops at the first Elasticsearch exception; only
 * `search_phase_execution_exception` lists its shard failures' causes instead.
 */

/** One rendered exception: `type`, `reason`, metadata (`index`, `index_uuid`, `shard`, …) and an optional cause. */
export interface EsCause {
  type: string;
  reason: string | null;
  caused_by?: EsCause;
  [metadata: string]: unknown;
}

/** A REST error body as the client receives it. */
export interface EsErrorBody {
  error: EsCause & { root_cause: EsCause[] };
  status: number;
}

/**
 * An exception a handler throws to answer with an Elasticsearch error. Internal to the devstack server: it never
 * crosses the module boundary (the router turns it into an HTTP response).
 */
export class EsError extends Error {
  readonly status: number;
  override readonly cause: EsCause;
  readonly #rootCauses: EsCause[] | undefined;

  constructor(status: number, cause: EsCause, rootCauses?: EsCause[]) {
    super(cause.reason ?? cause.type);
    this.status = status;
    this.cause = cause;
    this.#rootCauses = rootCauses;
  }

  /** The REST body. */
  body(): EsErrorBody {
    const rootCauses = this.#rootCauses ?? [withoutCause(this.cause)];
    return { error: { root_cause: rootCauses, ...this.cause }, status: this.status };
  }
}

function withoutCause(cause: EsCause): EsCause {
  if (cause.caused_by === undefined) return cause;
  const { caused_by: _dropped, ...rest } = cause;
  return rest as EsCause;
}

/** Metadata ES attaches to index-level exceptions. */
export function indexMetadata(index: string, uuid = '_na_'): { index_uuid: string; index: string } {
  return { index_uuid: uuid, index };
}

/** Metadata ES attaches to shard-level exceptions (a one-shard index: always shard "0"). */
export function shardMetadata(index: string, uuid: string): { index_uuid: string; shard: string; index: string } {
  return { index_uuid: uuid, shard: '0', index };
}

export function indexNotFound(index: string): EsError {
  return new EsError(404, {
    type: 'index_not_found_exception',
    reason: `no such index [${index}]`,
    'resource.type': 'index_or_alias',
    'resource.id': index,
    ...indexMetadata(index),
  });
}

export function indexAlreadyExists(index: string, uuid: string): EsError {
  return new EsError(400, {
    type: 'resource_already_exists_exception',
    reason: `index [${index}/${uuid}] already exists`,
    ...indexMetadata(index, uuid),
  });
}

export function invalidIndexName(index: string, why: string): EsError {
  return new EsError(400, {
    type: 'invalid_index_name_exception',
    reason: `Invalid index name [${index}], ${why}`,
    ...indexMetadata(index),
  });
}

export function illegalArgument(reason: string): EsError {
  return new EsError(400, { type: 'illegal_argument_exception', reason });
}

/** The JSON body could not be parsed (ES: `x_content_parse_exception` / `parse_exception`). */
export function unparsableBody(reason: string): EsError {
  return new EsError(400, { type: 'x_content_parse_exception', reason });
}

export function parsingException(reason: string): EsError {
  return new EsError(400, { type: 'parsing_exception', reason });
}

export function actionRequestValidation(problems: string[]): EsError {
  const list = problems.map((p, i) => `${i + 1}: ${p};`).join('');
  return new EsError(400, { type: 'action_request_validation_exception', reason: `Validation Failed: ${list}` });
}

/** `create` (or `op_type=create`) on an id that exists. */
export function documentExistsConflict(id: string, currentVersion: number, index: string, uuid: string): EsCause {
  return {
    type: 'version_conflict_engine_exception',
    reason: `[${id}]: version conflict, document already exists (current version [${currentVersion}])`,
    ...shardMetadata(index, uuid),
  };
}

/** `if_seq_no` / `if_primary_term` did not match the stored document. */
export function sequenceConflict(
  id: string,
  expected: { seqNo: number; primaryTerm: number },
  current: { seqNo: number; primaryTerm: number } | undefined,
  index: string,
  uuid: string,
): EsCause {
  const found = current === undefined
    ? 'but no document was found'
    : `current document has seqNo [${current.seqNo}] and primary term [${current.primaryTerm}]`;
  return {
    type: 'version_conflict_engine_exception',
    reason: `[${id}]: version conflict, required seqNo [${expected.seqNo}], primary term [${expected.primaryTerm}]. ${found}`,
    ...shardMetadata(index, uuid),
  };
}

/** `version_type=external` with a version that is not higher than the stored one. */
export function externalVersionConflict(
  id: string,
  currentVersion: number,
  provided: number,
  gte: boolean,
  index: string,
  uuid: string,
): EsCause {
  const relation = gte ? 'is higher than' : 'is higher or equal to';
  return {
    type: 'version_conflict_engine_exception',
    reason: `[${id}]: version conflict, current version [${currentVersion}] ${relation} the one provided [${provided}]`,
    ...shardMetadata(index, uuid),
  };
}

export function documentMissing(id: string, index: string, uuid: string): EsCause {
  return { type: 'document_missing_exception', reason: `[${id}]: document missing`, ...shardMetadata(index, uuid) };
}

/** The per-item and whole-request overload rejection (HTTP 429). */
export function rejectedExecution(what: string): EsCause {
  return {
    type: 'es_rejected_execution_exception',
    reason: `rejected execution of ${what} on EsThreadPoolExecutor[name = devstack/write, queue capacity = 10000, ` +
      'task execution EWMA = 1ms] (injected by the devstack fault plan)',
  };
}

/** What a node answers while it cannot serve (HTTP 503). */
export function serviceUnavailable(): EsError {
  return new EsError(503, {
    type: 'cluster_block_exception',
    reason: 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];',
  });
}

/**
 * A search that failed on its (only) shard: ES wraps the shard's exception in `search_phase_execution_exception`
 * and lists the shard's cause as the root cause.
 */
export function searchPhaseFailure(index: string, nodeId: string, cause: EsCause): EsError {
  return new EsError(
    400,
    {
      type: 'search_phase_execution_exception',
      reason: 'all shards failed',
      phase: 'query',
      grouped: true,
      failed_shards: [{ shard: 0, index, node: nodeId, reason: cause }],
      caused_by: cause,
    },
    [withoutCause(cause)],
  );
}

/** The body ES answers for a path it has no handler for (400, and `error` is a plain string). */
export function noHandlerBody(method: string, uri: string): { error: string; status: number } {
  return { error: `no handler found for uri [${uri}] and method [${method}]`, status: 400 };
}

/** The body ES answers for a known path with a method it does not allow (405). */
export function methodNotAllowedBody(method: string, uri: string, allowed: string[]): { error: string; status: number } {
  return { error: `Incorrect HTTP method for uri [${uri}] and method [${method}], allowed: [${allowed.join(', ')}]`, status: 405 };
}

import type { ElasticsearchAction } from './options.ts';

/**
 * One pending bulk action: where it goes, what it does, and the record it came from (kept for the dead letter).
 * `source` is the document already serialised as JSON (absent for deletes), so its size is known when it is
 * buffered and a retry sends the same bytes again.
 */
export interface BulkItem<T> {
  readonly index: string;
  readonly id: string;
  readonly action: ElasticsearchAction;
  /** The document as JSON (`upsert`: the partial document). Absent for `delete`. */
  readonly source: string | undefined;
  /**
   * The (last) record that produced this action, kept only when a dead-letter destination needs it: holding every
   * buffered record until its bulk returns would make them survive young-generation GCs (measured: +150 MiB peak
   * heap with 80,000 actions buffered or in flight behind a slow node).
   */
  readonly record: T | undefined;
  /** Bytes this item adds to a bulk body (action line + document line). */
  readonly bytes: number;
  /**
   * Cluster mode: an external version (`external_gte`) derived from the job's owner epoch, so a member that lost the
   * job cannot overwrite what its new owner wrote (index and delete only; Elasticsearch has no external versions for
   * updates, and a create never overwrites).
   */
  readonly version?: number;
}

/** How Elasticsearch answered one item of a bulk request, from the sink's point of view. */
export type ItemOutcome =
  /** Written (or a delete of something already gone). */
  | { readonly kind: 'done' }
  /** `create` of an id that exists: a replay of a document written before — success for effectively-once. */
  | { readonly kind: 'exists' }
  /** 429, 5xx or a version conflict of a concurrent update: try again after a backoff. */
  | { readonly kind: 'retry'; readonly status: number; readonly type: string; readonly reason: string }
  /** Can never succeed as sent (mapping conflict, parse error, bad id…): a dead letter. */
  | { readonly kind: 'reject'; readonly status: number; readonly type: string; readonly reason: string }
  /** A versioned write lost to a higher version: a newer owner of the job wrote the document (cluster fencing). */
  | { readonly kind: 'fenced'; readonly status: number; readonly type: string; readonly reason: string };

const DONE: ItemOutcome = { kind: 'done' };
const EXISTS: ItemOutcome = { kind: 'exists' };

/** The bulk action line's op type for a sink action. */
export function opType(action: ElasticsearchAction): 'index' | 'create' | 'update' | 'delete' {
  return action === 'upsert' ? 'update' : action;
}

/**
 * Appends one item's NDJSON lines to `out`. Upserts retry version conflicts inside Elasticsearch
 * (`retry_on_conflict`) before the sink sees them; two sink subtasks never upsert the same id after a keyBy, but
 * other writers of the index might.
 */
export function encodeItem(item: BulkItem<unknown>): string {
  const meta = `{"_index":${JSON.stringify(item.index)},"_id":${JSON.stringify(item.id)}${item.version === undefined ? '' : `,"version":${item.version},"version_type":"external_gte"`}`;
  switch (item.action) {
    case 'index':
      return `{"index":${meta}}}\n${item.source}\n`;
    case 'create':
      return `{"create":${meta}}}\n${item.source}\n`;
    case 'upsert':
      return `{"update":${meta},"retry_on_conflict":3}}\n{"doc":${item.source},"doc_as_upsert":true}\n`;
    case 'delete':
      return `{"delete":${meta}}}\n`;
  }
}

/** Bytes {@link encodeItem} will produce, without building the string (ids and index names are usually ASCII). */
export function itemBytes(action: ElasticsearchAction, index: string, id: string, source: string | undefined, version?: number): number {
  // Overheads of the fixed parts of each line shape above, measured once from encodeItem's templates.
  const fixed = action === 'upsert' ? 86 : action === 'create' ? 35 : 34;
  const versioned = version === undefined ? 0 : VERSION_OVERHEAD + String(version).length;
  return fixed + versioned + Buffer.byteLength(index) + Buffer.byteLength(id) + (source === undefined ? 0 : Buffer.byteLength(source));
}

/** `,"version":,"version_type":"external_gte"` without the number. */
const VERSION_OVERHEAD = 41;

/** Reads one entry of a bulk response's `items`: `{ "<op>": { status, error?, result? } }`. */
export function classifyItem(action: ElasticsearchAction, entry: unknown, versioned = false): ItemOutcome {
  const result = entry !== null && typeof entry === 'object' ? (Object.values(entry)[0] as BulkItemResult | undefined) : undefined;
  if (result === undefined || typeof result.status !== 'number') {
    return { kind: 'retry', status: 0, type: 'malformed_response', reason: `unexpected bulk response item ${JSON.stringify(entry)}` };
  }
  const status = result.status;
  if (status < 300) return DONE;
  const type = result.error?.type ?? `http_${status}`;
  const reason = describeReason(result.error) ?? `status ${status}`;
  if (action === 'delete' && status === 404) return DONE; // already gone (or its index is): the delete's goal holds
  if (status === 409 && action === 'create') return EXISTS;
  if (status === 409 && versioned) return { kind: 'fenced', status, type, reason };
  if (status === 429 || status >= 500 || status === 409) return { kind: 'retry', status, type, reason };
  return { kind: 'reject', status, type, reason };
}

interface BulkItemError {
  type?: string;
  reason?: string;
  caused_by?: BulkItemError;
}

interface BulkItemResult {
  status: number;
  error?: BulkItemError;
}

function describeReason(error: BulkItemError | undefined): string | undefined {
  if (error === undefined) return undefined;
  const cause = error.caused_by;
  if (cause?.reason !== undefined && cause.reason !== error.reason) return `${error.reason ?? error.type}: ${cause.type}: ${cause.reason}`;
  return error.reason ?? error.type;
}

import { EsError, unparsableBody } from './errors.ts';
import type { EsRequest } from './http-types.ts';

/**
 * Reading request bodies and query parameters the way ES validates them: a body that is not JSON is a 400
 * `x_content_parse_exception`, an unknown `refresh` value a 400 `illegal_argument_exception`.
 */

/** The JSON body, or `undefined` when the request has none. */
export function jsonBody(request: EsRequest): unknown {
  if (request.body.length === 0) return undefined;
  const text = request.body.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw unparsableBody(`[1:1] Unexpected character in request body: ${(err as Error).message}`);
  }
}

/** The JSON body that must be an object (a document, a query). */
export function objectBody(request: EsRequest, what: string): Record<string, unknown> {
  const body = jsonBody(request);
  if (body === undefined) {
    throw new EsError(400, { type: 'action_request_validation_exception', reason: `Validation Failed: 1: ${what} is missing;` });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new EsError(400, { type: 'parse_exception', reason: `request body must be a JSON object, got ${Array.isArray(body) ? 'an array' : typeof body}` });
  }
  return body as Record<string, unknown>;
}

export type RefreshPolicy = 'false' | 'true' | 'wait_for';

/** `?refresh`, `?refresh=true`, `?refresh=false`, `?refresh=wait_for`. */
export function refreshPolicy(query: URLSearchParams): RefreshPolicy {
  const value = query.get('refresh');
  if (value === null || value === 'false') return 'false';
  if (value === '' || value === 'true') return 'true';
  if (value === 'wait_for') return 'wait_for';
  throw new EsError(400, { type: 'illegal_argument_exception', reason: `Unknown value for refresh: [${value}].` });
}

/** An optional integer parameter. */
export function intParam(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) {
    throw new EsError(400, { type: 'illegal_argument_exception', reason: `Failed to parse int parameter [${name}] with value [${value}]` });
  }
  return parsed;
}

/** An optional boolean parameter (`?pretty`, `?ignore_unavailable=true`). */
export function boolParam(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (value === '' || value === 'true') return true;
  if (value === 'false') return false;
  throw new EsError(400, {
    type: 'illegal_argument_exception',
    reason: `Failed to parse value [${value}] as only [true] or [false] are allowed.`,
  });
}

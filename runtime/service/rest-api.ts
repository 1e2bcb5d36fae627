import type { Readable } from 'node:stream';
import type { JobSupervisor } from './job-supervisor.ts';
import type { SubmitRequest } from './supervisor-api.ts';
import { ServiceErrorCodes, badRequest } from './service-errors.ts';
import { EXPORT_CONTENT_TYPE, exportHeaders } from './savepoint-files.ts';
import { SluiceError } from '../errors/index.ts';
import type { KeyedStateQuery } from '../inspect/keyed-state-answer.ts';

/** A parsed request as a route handler sees it. */
export interface ApiRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Parsed JSON body (`undefined` when there was none, or when the body is an {@link upload}). */
  readonly body: unknown;
  /**
   * The body, unread, of a request sent as `application/octet-stream` to a route that takes one ({@link UPLOAD_ROUTE}:
   * a checkpoint export, which may be larger than any string or buffer should be); the route reads it.
   */
  readonly upload?: Readable;
}

/** Routes that take a binary body (`application/octet-stream`), streamed to them unread: checkpoint imports. */
export const UPLOAD_ROUTE = /^\/v1\/jobs\/[^/]+\/checkpoints\/import\/?$/;

/** A binary answer streamed to the client: `size` bytes from `open()`, then `release()` (a temporary file's removal). */
export interface Download {
  readonly size: number;
  open(): Readable;
  release(): Promise<void>;
}

/** A handler's answer: status and JSON body, or a text body of `contentType` (the Prometheus metrics, the dashboard). */
export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
  /** Set for a body that is already text (a string) in this content type; JSON otherwise. */
  readonly contentType?: string;
  /** Extra response headers (the dashboard's content security policy and cache rules). */
  readonly headers?: Readonly<Record<string, string>>;
  /** A binary body, streamed (`contentType` names it): a checkpoint export. `body` is ignored then. */
  readonly download?: Download;
}

type Handler = (request: ApiRequest, name: string) => Promise<ApiResponse>;

/** The service's version of the API; every route lives under `/v1`. */
export const API_PREFIX = '/v1';

/**
 * Maps `METHOD /v1/...` to the supervisor (docs/rest.md documents every route). Throws SluiceErrors; the HTTP layer
 * turns them into `{ error: { code, message, problems? } }` with a status.
 *
 * @example
 * ```ts
 * const api = restApi(supervisor);
 * const { status, body } = await api({ method: 'GET', path: '/v1/jobs', query: new URLSearchParams(), body: undefined });
 * ```
 */
export function restApi(supervisor: JobSupervisor): (request: ApiRequest) => Promise<ApiResponse> {
  const ok = (body: unknown, status = 200): ApiResponse => ({ status, body });
  const jobRoutes: Record<string, Partial<Record<string, Handler>>> = {
    '': {
      GET: async (_r, name) => ok({ job: await supervisor.status(name) }),
      DELETE: async (r, name) => {
        const checkpoints = r.query.get('checkpoints');
        if (checkpoints !== null && checkpoints !== 'true' && checkpoints !== 'false') {
          throw badRequest(`"checkpoints" must be true or false, got "${checkpoints}"`);
        }
        return ok(await supervisor.delete(name, { checkpoints: checkpoints === 'true' }));
      },
    },
    cancel: {
      POST: async (_r, name) => ok({ job: await supervisor.cancel(name) }),
    },
    stop: {
      POST: async (r, name) => ok(await supervisor.stop(name, { savepoint: optionalBoolean(r.body, 'savepoint') ?? false })),
    },
    savepoints: {
      POST: async (_r, name) => ok({ savepoint: await supervisor.savepoint(name) }, 201),
    },
    rescale: {
      POST: async (r, name) => {
        const parallelism = field(r.body, 'parallelism');
        if (typeof parallelism !== 'number' || !Number.isInteger(parallelism) || parallelism < 1) {
          throw badRequest(`"parallelism" must be a positive integer, got ${JSON.stringify(parallelism)}`);
        }
        return ok({ rescale: await supervisor.rescale(name, parallelism) });
      },
    },
    pause: {
      POST: async (_r, name) => ok(await supervisor.pause(name)),
    },
    resume: {
      POST: async (_r, name) => ok({ job: await supervisor.resume(name) }),
    },
    lag: {
      GET: async (_r, name) => ok({ lag: await supervisor.lagHistory(name) }),
    },
    checkpoints: {
      GET: async (_r, name) => ok({ checkpoints: await supervisor.checkpoints(name), warnings: await supervisor.checkpointWarnings(name) }),
    },
    state: {
      GET: async (r, name) => ok(await supervisor.keyedState(name, checkpointIdQuery(r), stateQuery(r))),
    },
    'checkpoints/backup': {
      GET: async (r, name) => ok({ backup: await supervisor.backup(name, checkpointIdQuery(r)) }),
    },
    'checkpoints/restore': {
      POST: async (r, name) => ok(await supervisor.restore(name, r.body), 201),
    },
    'checkpoints/export': {
      GET: async (r, name) => {
        const { info, download } = await supervisor.exportCheckpoint(name, checkpointIdQuery(r));
        return { status: 200, body: undefined, contentType: EXPORT_CONTENT_TYPE, headers: exportHeaders(info), download };
      },
    },
    'checkpoints/import': {
      POST: async (r, name) => {
        if (r.upload === undefined) throw badRequest('send the checkpoint export as the body, as application/octet-stream');
        return ok(await supervisor.importExport(name, r.upload), 201);
      },
    },
    'checkpoints/clear': {
      POST: async (_r, name) => ok(await supervisor.clear(name)),
    },
    'checkpoints/catch-up': {
      POST: async (_r, name) => ok({ job: await supervisor.catchUp(name) }),
    },
  };

  return async (request) => {
    const path = request.path.replace(/\/+$/, '');
    if (path === `${API_PREFIX}/health`) {
      allow(request, ['GET']);
      return ok({ status: 'ok' });
    }
    if (path === `${API_PREFIX}/jobs`) {
      allow(request, ['GET', 'POST']);
      if (request.method === 'GET') return ok({ jobs: await supervisor.list() });
      return ok({ job: await supervisor.submit(submitRequest(request.body)) }, 201);
    }
    const match = new RegExp(`^${API_PREFIX}/jobs/([^/]+)(?:/(.+))?$`).exec(path);
    if (match !== null) {
      const name = decodeURIComponent(match[1] as string);
      const routes = jobRoutes[match[2] ?? ''];
      if (routes !== undefined) {
        allow(request, Object.keys(routes));
        return (routes[request.method] as Handler)(request, name);
      }
    }
    throw new SluiceError(ServiceErrorCodes.routeNotFound, `no route ${request.method} ${request.path}: the API lives under ${API_PREFIX} (see docs/rest.md)`);
  };
}

/** The `?id=` of a checkpoint route: a checkpoint id, or `undefined` (the newest valid one). */
export function checkpointIdQuery(request: ApiRequest): number | undefined {
  const id = request.query.get('id');
  if (id !== null && !/^\d+$/.test(id)) throw badRequest(`"id" must be a checkpoint id, got "${id}"`);
  return id === null ? undefined : Number(id);
}

/** The query of `GET /v1/jobs/:name/state`: `operator`, `state`, `key` (repeatable), `limit`, `timers`, `operatorState`. */
export function stateQuery(request: ApiRequest): KeyedStateQuery {
  const operator = request.query.get('operator') ?? undefined;
  const state = request.query.get('state') ?? undefined;
  const keys = request.query.getAll('key');
  const limit = request.query.get('limit');
  const timers = request.query.get('timers');
  const operatorState = request.query.get('operatorState');
  if (operator === undefined && (state !== undefined || keys.length > 0 || limit !== null || timers !== null || operatorState !== null)) {
    throw badRequest('"state", "key", "limit", "timers" and "operatorState" select entries of an operator: give "operator" too');
  }
  for (const [name, value] of [['timers', timers], ['operatorState', operatorState]] as const) {
    if (value !== null && value !== 'true' && value !== 'false') throw badRequest(`"${name}" must be true or false, got "${value}"`);
  }
  if (limit !== null && !/^\d+$/.test(limit)) throw badRequest(`"limit" must be a positive integer, got "${limit}"`);
  return {
    ...(operator === undefined ? {} : { operator }),
    ...(state === undefined ? {} : { state }),
    ...(keys.length === 0 ? {} : { keys }),
    ...(limit === null ? {} : { limit: Number(limit) }),
    ...(timers === 'true' ? { timers: true } : {}),
    ...(operatorState === 'true' ? { operatorState: true } : {}),
  };
}

function allow(request: ApiRequest, methods: readonly string[]): void {
  if (!methods.includes(request.method)) {
    throw new SluiceError(ServiceErrorCodes.methodNotAllowed, `${request.path} accepts ${methods.join(', ')}, not ${request.method}`);
  }
}

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

function optionalBoolean(body: unknown, name: string): boolean | undefined {
  const value = field(body, name);
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw badRequest(`"${name}" must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** Validates the body of `POST /v1/jobs`, naming every bad field. */
export function submitRequest(body: unknown): SubmitRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the request body must be a JSON object: { "file": "/path/to/job.ts", ... }');
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof b['file'] !== 'string' || b['file'] === '') problems.push('"file" must be the path of a job file on the service\'s filesystem');
  const params = b['params'];
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params) || Object.values(params).some((v) => typeof v !== 'string'))) {
    problems.push('"params" must be an object of string values');
  }
  const parallelism = b['parallelism'];
  if (parallelism !== undefined && (typeof parallelism !== 'number' || !Number.isInteger(parallelism) || parallelism < 1)) problems.push('"parallelism" must be a positive integer');
  const workers = b['workers'];
  if (workers !== undefined && (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 0)) problems.push('"workers" must be a whole number ≥ 0 (0 runs in-process)');
  if (b['from'] !== undefined && (typeof b['from'] !== 'string' || b['from'] === '')) problems.push('"from" must be "latest", a checkpoint id, or a savepoint file path');
  for (const flag of ['replace', 'allowNonRestoredState']) {
    if (b[flag] !== undefined && typeof b[flag] !== 'boolean') problems.push(`"${flag}" must be true or false`);
  }
  const known = new Set(['file', 'params', 'parallelism', 'workers', 'from', 'replace', 'allowNonRestoredState']);
  for (const key of Object.keys(b)) if (!known.has(key)) problems.push(`unknown field "${key}"`);
  if (problems.length > 0) throw badRequest(`invalid submit request: ${problems.join('; ')}`);
  return {
    file: b['file'] as string,
    ...(params === undefined ? {} : { params: params as Record<string, string> }),
    ...(parallelism === undefined ? {} : { parallelism: parallelism as number }),
    ...(workers === undefined ? {} : { workers: workers as number }),
    ...(b['from'] === undefined ? {} : { from: b['from'] as string }),
    ...(b['replace'] === undefined ? {} : { replace: b['replace'] as boolean }),
    ...(b['allowNonRestoredState'] === undefined ? {} : { allowNonRestoredState: b['allowNonRestoredState'] as boolean }),
  };
}

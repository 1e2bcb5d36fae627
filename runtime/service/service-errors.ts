import { SluiceError, isSluiceError } from '../errors/index.ts';
import { JobValidationError } from '../graph/index.ts';

/** Error codes the service itself raises (others come from the runner, the checkpoint store, the job loader). */
export const ServiceErrorCodes = {
  badRequest: 'SLUICE_BAD_REQUEST',
  unauthorized: 'SLUICE_UNAUTHORIZED',
  routeNotFound: 'SLUICE_ROUTE_NOT_FOUND',
  methodNotAllowed: 'SLUICE_METHOD_NOT_ALLOWED',
  jobNotFound: 'SLUICE_JOB_NOT_FOUND',
  jobRunning: 'SLUICE_JOB_RUNNING',
  jobNotRunning: 'SLUICE_JOB_NOT_RUNNING',
  jobNameChanged: 'SLUICE_JOB_NAME_CHANGED',
  savepointFileNotFound: 'SLUICE_SAVEPOINT_FILE_NOT_FOUND',
  restorePointNotFound: 'SLUICE_RESTORE_POINT_NOT_FOUND',
  syntaxError: 'SLUICE_JOB_FILE_SYNTAX_ERROR',
  unsafeBind: 'SLUICE_UNSAFE_BIND',
  registryLocked: 'SLUICE_REGISTRY_LOCKED',
  registryUnreadable: 'SLUICE_REGISTRY_UNREADABLE',
  backupTooLarge: 'SLUICE_BACKUP_TOO_LARGE',
  unsupportedMediaType: 'SLUICE_UNSUPPORTED_MEDIA_TYPE',
} as const;

/** The JSON body of every error response: `{ error: { code, message, problems? } }`. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly problems?: readonly string[] };
}

/** Codes meaning "the request (or the job file it names) is wrong": 400. */
const BAD_REQUEST = new Set<string>([
  ServiceErrorCodes.badRequest,
  ServiceErrorCodes.savepointFileNotFound,
  ServiceErrorCodes.restorePointNotFound,
  ServiceErrorCodes.syntaxError,
  ServiceErrorCodes.jobNameChanged,
  ServiceErrorCodes.backupTooLarge,
  'SLUICE_USAGE',
  'SLUICE_INVALID_JOB',
  'SLUICE_INVALID_OPTION',
  'SLUICE_JOB_FILE_NOT_FOUND',
  'SLUICE_JOB_FILE_IMPORT_FAILED',
  'SLUICE_JOB_FILE_NO_JOB',
  'SLUICE_JOB_BUILD_FAILED',
  'SLUICE_JOB_PARAM_MISSING',
  'SLUICE_JOB_PARAM_INVALID',
  'SLUICE_MAX_PARALLELISM_CHANGED',
  'SLUICE_STATE_NOT_RESTORED',
  'SLUICE_CHECKPOINT_CORRUPT',
  'SLUICE_CHECKPOINT_INVALID',
  'SLUICE_RESCALE_UNCHANGED',
  'SLUICE_RESCALE_NEEDS_CHECKPOINTS',
  'SLUICE_JOB_BUNDLE_FAILED',
  'SLUICE_STATE_NO_KEYED_STATE',
  'SLUICE_STATE_NO_OPERATOR_STATE',
]);

/** Codes meaning "not in the state this needs": 409. */
const CONFLICT = new Set<string>([
  ServiceErrorCodes.jobRunning,
  ServiceErrorCodes.jobNotRunning,
  'SLUICE_RESCALE_IN_PROGRESS',
  'SLUICE_RESCALE_FAILED',
  'SLUICE_CHECKPOINTS_DISABLED',
  'SLUICE_CLUSTER_NOT_OWNER',
]);

const NOT_FOUND = new Set<string>([
  ServiceErrorCodes.jobNotFound,
  ServiceErrorCodes.routeNotFound,
  'SLUICE_CHECKPOINT_NOT_FOUND',
]);

/** Codes meaning "try again soon": a cluster member or the brokers do not answer. 503. */
const UNAVAILABLE = new Set<string>(['SLUICE_CLUSTER_UNAVAILABLE', 'SLUICE_CLUSTER_REPLICATION_FAILED']);

/** The HTTP status and body for an error thrown while handling a request. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof JobValidationError) {
    const first = err.message.split('\n')[0] ?? err.message;
    return { status: 400, body: { error: { code: err.code, message: first, problems: err.problems } } };
  }
  if (isSluiceError(err)) {
    const status =
      err.code === ServiceErrorCodes.unauthorized ? 401
      : err.code === ServiceErrorCodes.methodNotAllowed ? 405
      : err.code === ServiceErrorCodes.unsupportedMediaType ? 415
      : NOT_FOUND.has(err.code) ? 404
      : BAD_REQUEST.has(err.code) ? 400
      : CONFLICT.has(err.code) ? 409
      : UNAVAILABLE.has(err.code) ? 503
      : 500;
    return { status, body: { error: { code: err.code, message: err.message } } };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, body: { error: { code: 'SLUICE_INTERNAL', message: `unexpected error: ${message}` } } };
}

/** `SLUICE_JOB_NOT_FOUND` naming the job and how to see the registered ones. */
export function jobNotFound(name: string): SluiceError {
  return new SluiceError(ServiceErrorCodes.jobNotFound, `no job named "${name}" is registered with this service; list the jobs with \`sluice list\`, or submit it with \`sluice submit <job.ts>\``);
}

/** `SLUICE_BAD_REQUEST` for a malformed request field. */
export function badRequest(message: string): SluiceError {
  return new SluiceError(ServiceErrorCodes.badRequest, message);
}

/** An action that needs a running job, asked of one that is not (with how to resume it, when it can be). */
export function notRunning(name: string, state: string, what: string): SluiceError {
  const hint = state === 'paused' || state === 'stopped' ? ` (resume it with \`sluice resume ${name}\`)` : '';
  return new SluiceError(ServiceErrorCodes.jobNotRunning, `job "${name}" is ${state}, not running: cannot ${what} it${hint}`);
}

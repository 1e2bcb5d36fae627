import type { CheckpointStore } from '../checkpoint/index.ts';
import { SluiceError } from '../errors/index.ts';
import { answerKeyedState } from '../inspect/keyed-state-answer.ts';
import { checkpointToRead } from '../inspect/keyed-state-reader.ts';
import type { JobRunner } from '../runner/index.ts';
import type { JobRecord } from '../service/job-registry.ts';
import { jobStatus, jobSummary } from '../service/job-status-view.ts';
import { JobTracker } from '../service/job-tracker.ts';
import { API_PREFIX, checkpointIdQuery, stateQuery, type ApiRequest, type ApiResponse } from '../service/rest-api.ts';
import { describeSavepoint } from '../service/savepoint-files.ts';
import { badRequest, jobNotFound, ServiceErrorCodes } from '../service/service-errors.ts';

/** What `sluice run` knows of the job it runs in the foreground. */
export interface ForegroundJob {
  readonly runner: JobRunner;
  /** The job file, as the service would show it. */
  readonly file: string;
  readonly params: Readonly<Record<string, string>>;
  readonly startedAt: number;
  /** The run's checkpoint store, when it checkpoints: the job's keyed state is read from it (`GET …/state`). */
  readonly store?: CheckpointStore;
}

/**
 * The REST API of `sluice run --ui-port`, for the dashboard: the same routes and shapes as the service's (docs/rest.md)
 * over the one job the process runs. Savepoint, rescale, cancel and reading keyed state work; pause, resume and stop answer 409 (they need
 * a service that outlives the run: `sluice start`, then `sluice submit`). Call `close()` when the run ends.
 *
 * @example
 * ```ts
 * const api = runnerApi({ runner, file, params: {}, startedAt: Date.now() });
 * listen({ host, port, token, handle: (request) => dashboard(request) ?? api.handle(request), logger });
 * ```
 */
export function runnerApi(job: ForegroundJob, now: () => number = Date.now): { handle: (request: ApiRequest) => Promise<ApiResponse>; close(): void } {
  const tracker = new JobTracker(now);
  tracker.follow(job.runner);
  const { runner } = job;
  const name = runner.plan.job;
  const record = (): JobRecord => ({
    name,
    file: job.file,
    params: job.params,
    parallelism: runner.plan.parallelism,
    allowNonRestoredState: false,
    state: 'running',
    startFrom: { from: 'latest' },
    submittedAt: job.startedAt,
    updatedAt: job.startedAt,
  });
  const active = { runner, startedAt: job.startedAt };
  const ok = (body: unknown, status = 200): ApiResponse => ({ status, body });
  const status = () => jobStatus(record(), active, tracker, now());
  const serviceOnly = (what: string): never => {
    throw new SluiceError(ServiceErrorCodes.jobRunning, `sluice run cannot ${what} its job: that needs a service that outlives the run (sluice start, then sluice submit ${job.file}); here use Savepoint, then run again with --from`);
  };
  const readState = async (request: ApiRequest): Promise<ApiResponse> => {
    const checkpoint = job.store === undefined ? undefined : await checkpointToRead(job.store, name, checkpointIdQuery(request));
    if (checkpoint === undefined) throw new SluiceError('SLUICE_CHECKPOINT_NOT_FOUND', `job "${name}" has no checkpoint yet: its keyed state is read from its checkpoints`, { retriable: true });
    return ok(await answerKeyedState(checkpoint, stateQuery(request)));
  };
  const routes: Record<string, Partial<Record<string, () => Promise<ApiResponse>>>> = {
    '': { GET: async () => ok({ job: status() }) },
    lag: { GET: async () => ok({ lag: tracker.lagHistory() }) },
    savepoints: { POST: async () => ok({ savepoint: describeSavepoint(await runner.checkpoint('savepoint')) }, 201) },
    cancel: {
      POST: async () => {
        runner.cancel('cancelled from the dashboard');
        return ok({ job: status() });
      },
    },
    pause: { POST: () => serviceOnly('pause') },
    resume: { POST: () => serviceOnly('resume') },
    stop: { POST: () => serviceOnly('stop') },
  };

  const handle = async (request: ApiRequest): Promise<ApiResponse> => {
    const path = request.path.replace(/\/+$/, '');
    if (path === `${API_PREFIX}/health`) return ok({ status: 'ok' });
    if (path === `${API_PREFIX}/jobs` && request.method === 'GET') return ok({ jobs: [jobSummary(record(), active, tracker, now())] });
    const match = new RegExp(`^${API_PREFIX}/jobs/([^/]+)(?:/(.+))?$`).exec(path);
    if (match === null) throw new SluiceError(ServiceErrorCodes.routeNotFound, `no route ${request.method} ${request.path}: this port serves the dashboard (/) and the API of the job it runs under ${API_PREFIX}`);
    if (decodeURIComponent(match[1] ?? '') !== name) throw jobNotFound(decodeURIComponent(match[1] ?? ''));
    const sub = match[2] ?? '';
    if (sub === 'rescale' && request.method === 'POST') {
      const parallelism = (request.body as { parallelism?: unknown } | undefined)?.parallelism;
      if (typeof parallelism !== 'number' || !Number.isInteger(parallelism) || parallelism < 1) {
        throw badRequest(`"parallelism" must be a positive integer, got ${JSON.stringify(parallelism)}`);
      }
      return ok({ rescale: await runner.rescale(parallelism) });
    }
    if (sub === 'state' && request.method === 'GET') return readState(request);
    const action = routes[sub]?.[request.method];
    if (action === undefined) throw new SluiceError(ServiceErrorCodes.routeNotFound, `no route ${request.method} ${request.path} in sluice run (see docs/rest.md)`);
    return action();
  };
  return { handle, close: () => tracker.stop() };
}

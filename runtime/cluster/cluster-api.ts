import { JobParams } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import { buildPhysicalPlan } from '../graph/index.ts';
import type { JobFileLoader } from '../service/job-loader.ts';
import { API_PREFIX, submitRequest, type ApiRequest, type ApiResponse } from '../service/rest-api.ts';
import { badRequest, ServiceErrorCodes } from '../service/service-errors.ts';
import type { ClusterCoordination } from './cluster-coordination.ts';
import type { ClusterJobSpec, DesiredState, StartOverride } from './jobs/cluster-job-spec.ts';
import type { ClusterCheckpointTools } from './checkpoints/checkpoint-tools.ts';
import { clusterCheckpointRoutes } from './cluster-checkpoint-routes.ts';
import { unownedJobStatus } from './unowned-job-status.ts';
import { bundleJobFile, writeJobBundle } from './jobs/job-bundle.ts';
import type { JobsLog } from './jobs/jobs-log.ts';
import type { StatusLog } from './jobs/status-log.ts';

export interface ClusterApiOptions {
  readonly cluster: string;
  readonly coordination: ClusterCoordination;
  readonly jobsLog: JobsLog;
  readonly status: StatusLog;
  readonly tools: ClusterCheckpointTools;
  readonly loader: JobFileLoader;
  readonly dataDir: string;
  /** The member's own API over its supervisor: routes of jobs this member runs. */
  readonly local: (request: ApiRequest) => Promise<ApiResponse>;
  /** Sent on with forwarded requests (every member of a cluster shares one token). */
  readonly token?: string | undefined;
}

/**
 * Job routes that change what the cluster should do with a job: written to the jobs topic, wherever the job runs.
 * `stop` is a pause here: a cluster job that stops keeps its state for the next start, so its owner stops it with a
 * savepoint either way.
 */
const DESIRED: Readonly<Record<string, DesiredState>> = { pause: 'paused', stop: 'paused', resume: 'running', cancel: 'cancelled' };

/** How long a request forwarded to a job's owner may take (a savepoint of large state takes a while). */
const FORWARD_TIMEOUT_MS = 5 * 60_000;

/**
 * The REST API of a cluster member (docs/cluster.md): `GET /v1/cluster` (members, leader, assignments, every job's
 * owner and last checkpoint), `POST /v1/cluster/pause` and `/resume` (every job), submitting, pausing, resuming,
 * cancelling and rescaling through the jobs topic, the checkpoint tools on the checkpoints topic
 * (cluster-checkpoint-routes.ts), and every other job route answered by the member that runs the job (forwarded when
 * that is another member).
 *
 * @example
 * ```ts
 * const api = clusterApi({ cluster: 'prod', coordination, jobsLog, status, tools, loader, dataDir, local: restApi(supervisor) });
 * const { body } = await api({ method: 'GET', path: '/v1/cluster', query: new URLSearchParams(), body: undefined });
 * ```
 */
export function clusterApi(options: ClusterApiOptions): (request: ApiRequest) => Promise<ApiResponse> {
  const { coordination, jobsLog } = options;
  const checkpoints = clusterCheckpointRoutes({ cluster: options.cluster, coordination, jobsLog, tools: options.tools });

  const change = async (name: string, edit: (spec: ClusterJobSpec) => Partial<ClusterJobSpec>): Promise<ClusterJobSpec> => {
    const spec = (await jobsLog.readAll()).get(name);
    if (spec === undefined) throw new SluiceError(ServiceErrorCodes.jobNotFound, `job "${name}" is not in cluster "${options.cluster}"; list its jobs with sluice list`);
    const next: ClusterJobSpec = { ...spec, ...edit(spec), version: spec.version + 1, updatedAt: Date.now() };
    await jobsLog.write(next);
    coordination.requestRebalance();
    return next;
  };

  const submit = async (body: unknown): Promise<ApiResponse> => {
    const request = submitRequest(body);
    const bundle = await bundleJobFile(request.file);
    // Import it here first: a job that does not load or whose plan is invalid is refused now, not on its owner.
    const job = await options.loader.load(await writeJobBundle(options.dataDir, `submitted-${bundle.hash}`, bundle));
    const params = request.params ?? {};
    buildPhysicalPlan(job, { params: new JobParams(Object.entries(params)), ...(request.parallelism === undefined ? {} : { parallelism: request.parallelism }) });
    const name = job.options.name;
    const existing = (await jobsLog.readAll()).get(name);
    const now = Date.now();
    const version = (existing?.version ?? 0) + 1;
    const specWith = (override: StartOverride | undefined): ClusterJobSpec => ({
      name,
      code: bundle.code,
      hash: bundle.hash,
      sourceFile: request.file,
      params,
      ...(request.parallelism === undefined ? {} : { parallelism: request.parallelism }),
      ...(request.workers === undefined ? {} : { workers: request.workers }),
      desired: 'running',
      ...(override === undefined ? {} : { override }),
      version,
      submittedAt: existing?.submittedAt ?? now,
      updatedAt: now,
    });
    const writeSpec = (override: StartOverride | undefined): Promise<void> => jobsLog.write(specWith(override));
    // With --from, the spec is written once its import is in the topic (and the import dropped if that write fails).
    const from = request.from === undefined || request.from === 'latest' ? undefined : await checkpoints.fromImport(name, request.from, version, writeSpec);
    if (from === undefined) await writeSpec(undefined);
    coordination.requestRebalance();
    return { status: 201, body: { job: { name, state: 'submitted', startFrom: from === undefined ? { from: 'latest' } : { from: 'import', serial: from.serial }, parallelism: request.parallelism ?? null, attempt: null, cluster: { name: options.cluster, version } } } };
  };

  const clusterStatus = async (): Promise<unknown> => {
    const [specs, statuses] = await Promise.all([jobsLog.readAll(), options.status.readAll()]);
    const view = coordination.view();
    const owners = new Map((view?.members ?? []).flatMap((m) => m.jobs.map((j) => [j.job, m.name] as const)));
    return {
      cluster: options.cluster,
      generation: view?.generation ?? null,
      leader: view?.leader ?? null,
      members: (view?.members ?? []).map((m) => ({ name: m.name, url: m.url, jobs: m.jobs.map((j) => j.job) })),
      handingOver: view?.handingOver ?? [],
      jobs: [...specs.values()].map((spec) => {
        const status = statuses.get(spec.name);
        return {
          name: spec.name,
          desired: spec.desired,
          version: spec.version,
          parallelism: spec.parallelism ?? null,
          owner: owners.get(spec.name) ?? null,
          state: status?.version === spec.version ? status.state : status?.state ?? 'submitted',
          lastCheckpoint: status?.lastCheckpoint ?? null,
          error: status?.error ?? null,
        };
      }),
    };
  };

  /** Every job of the cluster: the ones running here as the supervisor sees them, the others from the topics. */
  const list = async (request: ApiRequest): Promise<unknown[]> => {
    const local = ((await options.local(request)).body as { jobs: Array<{ name: string }> }).jobs;
    const here = new Set(local.map((j) => j.name));
    const { jobs } = (await clusterStatus()) as { jobs: Array<{ name: string; state: string; parallelism: number | null; owner: string | null }> };
    const own = coordination.name;
    return [
      ...local.filter((j) => jobs.some((c) => c.name === j.name)).map((j) => ({ ...j, owner: own })),
      ...jobs.filter((j) => !here.has(j.name)).map((j) => ({ name: j.name, state: j.state, parallelism: j.parallelism, workers: null, attempt: null, uptimeMs: null, recordsInPerSecond: null, lastCheckpoint: null, file: '', owner: j.owner })),
    ];
  };

  /** Forgets a job that is not running: its spec is tombstoned in the jobs topic. */
  const remove = async (name: string, request: ApiRequest): Promise<ApiResponse> => {
    const spec = (await jobsLog.readAll()).get(name);
    if (spec === undefined) throw new SluiceError(ServiceErrorCodes.jobNotFound, `job "${name}" is not in cluster "${options.cluster}"; list its jobs with sluice list`);
    if (spec.desired === 'running') throw new SluiceError(ServiceErrorCodes.jobRunning, `job "${name}" is running in cluster "${options.cluster}"; pause or cancel it first (sluice pause ${name})`);
    const purge = request.query.get('checkpoints');
    if (purge !== null && purge !== 'true' && purge !== 'false') throw badRequest(`"checkpoints" must be true or false, got "${purge}"`);
    const checkpointsDeleted = purge === 'true' ? await checkpoints.purge(name) : 0;
    await jobsLog.delete(name);
    coordination.requestRebalance();
    return { status: 200, body: { deleted: name, checkpointsDeleted } };
  };

  /** A route of a job no member runs: its status from the topics; what needs a run is refused with where it stands. */
  const unowned = async (request: ApiRequest, name: string, action: string | undefined): Promise<ApiResponse> => {
    const [specs, statuses] = await Promise.all([jobsLog.readAll(), options.status.readAll()]);
    const spec = specs.get(name);
    if (spec === undefined) return options.local(request); // not a cluster job: the local answer (404)
    const status = unownedJobStatus(spec, statuses.get(name));
    if (action === undefined && request.method === 'GET') return { status: 200, body: { job: status } };
    const hint = status.registeredState === 'paused' ? `; resume it with sluice resume ${name}` : status.registeredState === 'running' ? '; the leader assigns it to a member at the next rebalance, ask again then' : '';
    throw new SluiceError(ServiceErrorCodes.jobNotRunning, `job "${name}" runs on no member of cluster "${options.cluster}" now (${status.state})${hint}`);
  };

  const forward = async (request: ApiRequest, name: string, action: string | undefined): Promise<ApiResponse> => {
    const view = coordination.view();
    const owner = view?.members.find((m) => m.jobs.some((j) => j.job === name));
    if (owner === undefined) return unowned(request, name, action);
    if (owner.url === coordination.url) return options.local(request);
    const url = `${owner.url}${request.path}${request.query.size > 0 ? `?${request.query.toString()}` : ''}`;
    try {
      const response = await fetch(url, {
        method: request.method,
        headers: { 'content-type': 'application/json', ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }) },
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
      return { status: response.status, body: await response.json() };
    } catch (err) {
      throw new SluiceError('SLUICE_CLUSTER_UNAVAILABLE', `job "${name}" runs on member "${owner.name}" at ${owner.url}, which does not answer (${(err as Error).message}); if it is down, its jobs move to the other members after the session timeout — ask again then`, { cause: err, retriable: true });
    }
  };

  return async (request) => {
    const path = request.path.replace(/\/+$/, '');
    if (path === `${API_PREFIX}/cluster`) {
      if (request.method !== 'GET') throw new SluiceError(ServiceErrorCodes.methodNotAllowed, `${path} accepts GET, not ${request.method}`);
      return { status: 200, body: { cluster: await clusterStatus() } };
    }
    const all = new RegExp(`^${API_PREFIX}/cluster/(pause|resume)$`).exec(path);
    if (all !== null && request.method === 'POST') {
      const desired: DesiredState = all[1] === 'pause' ? 'paused' : 'running';
      const specs = [...(await jobsLog.readAll()).values()].filter((s) => s.desired !== 'cancelled' && s.desired !== desired);
      for (const spec of specs) await change(spec.name, () => ({ desired }));
      return { status: 200, body: { jobs: specs.map((s) => s.name), desired } };
    }
    if (path === `${API_PREFIX}/jobs` && request.method === 'POST') return submit(request.body);
    if (path === `${API_PREFIX}/jobs` && request.method === 'GET') return { status: 200, body: { jobs: await list(request) } };
    const match = new RegExp(`^${API_PREFIX}/jobs/([^/]+)/(pause|stop|resume|cancel|rescale)$`).exec(path);
    if (match !== null && request.method === 'POST') {
      const name = decodeURIComponent(match[1]!);
      const action = match[2]!;
      if (action === 'rescale') {
        const parallelism = (request.body as { parallelism?: unknown } | undefined)?.parallelism;
        if (typeof parallelism !== 'number' || !Number.isInteger(parallelism) || parallelism < 1) throw badRequest(`"parallelism" must be a positive integer, got ${JSON.stringify(parallelism)}`);
        const spec = await change(name, () => ({ parallelism }));
        return { status: 200, body: { job: { name, parallelism, version: spec.version } } };
      }
      const spec = await change(name, () => ({ desired: DESIRED[action]! }));
      return { status: 200, body: { job: { name, desired: spec.desired, version: spec.version } } };
    }
    const jobRoute = new RegExp(`^${API_PREFIX}/jobs/([^/]+)(?:/(.+))?$`).exec(path);
    if (jobRoute !== null) {
      const name = decodeURIComponent(jobRoute[1]!);
      const action = jobRoute[2];
      const tool = await checkpoints.handle(request, name, action);
      if (tool !== undefined) return tool;
      if (action === undefined && request.method === 'DELETE') return remove(name, request);
      return forward(request, name, action);
    }
    return options.local(request);
  };
}

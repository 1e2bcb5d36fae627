import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CheckpointStore } from '../checkpoint/index.ts';
import { DASHBOARD_PATHS, dashboardRoute } from '../dashboard/index.ts';
import { METRICS_PATH, SluiceMetrics } from '../metrics/index.ts';
import type { Logger } from '../logging/index.ts';
import { checkBindSafety } from './auth.ts';
import { listen } from './http-server.ts';
import { JobFileLoader } from './job-loader.ts';
import { JobRegistry } from './job-registry.ts';
import { JobSupervisor } from './job-supervisor.ts';
import { restApi } from './rest-api.ts';

export interface ServiceOptions {
  /** Registry, checkpoints and `service.json`; created if missing. */
  readonly dataDir: string;
  /** Default `127.0.0.1`. Any other than a loopback address needs a token. */
  readonly host?: string;
  /** Default 8081; 0 picks a free port (read it from {@link RunningService.url} or `<dataDir>/service.json`). */
  readonly port?: number;
  readonly token?: string;
  /** Worker threads of jobs submitted without `workers`; absent: one per core, capped by the job's parallelism. */
  readonly workers?: number;
  /**
   * Whether `GET /metrics` (Prometheus) needs the token like the API (`token`, the default) or is open to any
   * scraper that reaches the port (`none`: for a Prometheus without credentials on a trusted network).
   */
  readonly metricsAuth?: 'token' | 'none';
  readonly logger: Logger;
}

export interface RunningService {
  /** Base URL, e.g. `http://127.0.0.1:8081`. */
  readonly url: string;
  readonly dataDir: string;
  /** Stops every job (they stay registered as running and resume on the next start), then the server. */
  close(): Promise<void>;
}

/** Name of the file in the data directory that says where the service listens: `{ url, pid, startedAt }`. */
export const SERVICE_INFO_FILE = 'service.json';

/**
 * Starts the sluice service: opens the job registry and the checkpoint store in the data directory, resumes every
 * job that was running when the service last stopped (or crashed), and serves the REST API, the jobs' Prometheus
 * metrics (`GET /metrics`) and the web dashboard (`GET /`, docs/observability.md).
 *
 * @example
 * ```ts
 * const service = await startService({ dataDir: '.sluice', port: 0, logger });
 * console.log(service.url); // http://127.0.0.1:41234
 * await service.close();
 * ```
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token === '' ? undefined : options.token;
  checkBindSafety(host, token);
  const dataDir = resolve(options.dataDir);
  const logger = options.logger.child({ component: 'service' });
  const registry = await JobRegistry.open(dataDir);
  let store: CheckpointStore;
  try {
    store = await CheckpointStore.open(dataDir, { logger });
  } catch (err) {
    await registry.close();
    throw err;
  }
  const metrics = new SluiceMetrics();
  const supervisor = new JobSupervisor({
    registry,
    store,
    loader: new JobFileLoader(),
    dataDir,
    logger,
    ...(options.workers === undefined ? {} : { workers: options.workers }),
    onRunner: (name, runner) => metrics.jobs.track(name, runner),
  });
  const api = restApi(supervisor);
  const dashboard = dashboardRoute();
  const openPaths = new Set([...DASHBOARD_PATHS, ...(options.metricsAuth === 'none' ? [METRICS_PATH] : [])]);
  let server;
  try {
    server = await listen({ host, port: options.port ?? 8081, token, openPaths, handle: (request) => metrics.route(request) ?? dashboard(request) ?? api(request), logger });
  } catch (err) {
    await Promise.all([registry.close(), store.close()]);
    throw err;
  }
  const infoFile = join(dataDir, SERVICE_INFO_FILE);
  await writeFile(infoFile, `${JSON.stringify({ url: server.url, pid: process.pid, startedAt: new Date().toISOString() })}\n`);
  // Listen first, then resume: status calls work while the jobs come back.
  await supervisor.recover();
  let closed: Promise<void> | undefined;
  return {
    url: server.url,
    dataDir,
    close: () =>
      (closed ??= (async () => {
        await server.close();
        await supervisor.close();
        await Promise.all([registry.close(), store.close()]);
        await rm(infoFile, { force: true });
      })()),
  };
}

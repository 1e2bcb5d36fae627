import { SluiceError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import { isLoopback } from '../service/auth.ts';
import { listen, type ListeningServer } from '../service/http-server.ts';
import { DASHBOARD_PATHS, dashboardRoute } from './dashboard-route.ts';
import { runnerApi, type ForegroundJob } from './runner-api.ts';

export interface DashboardServerOptions {
  readonly host: string;
  readonly port: number;
  /** Required for a host other machines can reach: the page's controls cancel and rescale the job. */
  readonly token: string | undefined;
  readonly logger: Logger;
}

/**
 * `sluice run --ui-port`: the web dashboard and the API of the one job the process runs, on their own port. The
 * page is served to anyone who reaches the port; the API (and so every control) needs the token when there is one.
 *
 * @example
 * ```ts
 * const ui = await serveDashboard({ runner, file, params: {}, startedAt: Date.now() }, { host: '127.0.0.1', port: 8082, token: undefined, logger });
 * // open ui.url; when the run ends: await ui.close()
 * ```
 */
export async function serveDashboard(job: ForegroundJob, options: DashboardServerOptions): Promise<ListeningServer> {
  const token = options.token === '' ? undefined : options.token;
  if (!isLoopback(options.host) && token === undefined) {
    throw new SluiceError('SLUICE_UNSAFE_BIND', `refusing to serve the dashboard on ${options.host} without a token: anyone who reaches it could cancel or rescale the job. Set SLUICE_TOKEN, or use --ui-host 127.0.0.1`, { retriable: false });
  }
  const api = runnerApi(job);
  const dashboard = dashboardRoute();
  let server: ListeningServer;
  try {
    server = await listen({ host: options.host, port: options.port, token, openPaths: DASHBOARD_PATHS, logger: options.logger, handle: (request) => dashboard(request) ?? api.handle(request) });
  } catch (err) {
    api.close();
    throw new SluiceError('SLUICE_UI_PORT_UNAVAILABLE', `cannot serve the dashboard on ${options.host}:${options.port}: ${(err as Error).message}; pick a free port with --ui-port (0 picks one) or another --ui-host`, { cause: err, retriable: false });
  }
  return {
    url: server.url,
    server: server.server,
    close: async () => {
      api.close();
      await server.close();
    },
  };
}

import { SluiceError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import { listen, type ListeningServer } from '../service/http-server.ts';
import { METRICS_PATH, type SluiceMetrics } from './sluice-metrics.ts';

/**
 * Serves `GET /metrics` alone on its own port (`sluice run --metrics-port`); any other path answers 404 with what
 * is served. The metrics are read-only, so no token: bind to a reachable host only on a network you trust.
 *
 * @example
 * ```ts
 * const server = await serveMetrics(metrics, { host: '127.0.0.1', port: 9464, logger });
 * // scrape server.url + '/metrics'; later: await server.close()
 * ```
 */
export async function serveMetrics(metrics: SluiceMetrics, options: { readonly host: string; readonly port: number; readonly logger: Logger }): Promise<ListeningServer> {
  try {
    return await listenForMetrics(metrics, options);
  } catch (err) {
    throw new SluiceError('SLUICE_METRICS_PORT_UNAVAILABLE', `cannot serve metrics on ${options.host}:${options.port}: ${(err as Error).message}; pick a free port with --metrics-port (0 picks one) or another --metrics-host`, { cause: err, retriable: false });
  }
}

function listenForMetrics(metrics: SluiceMetrics, options: { readonly host: string; readonly port: number; readonly logger: Logger }): Promise<ListeningServer> {
  return listen({
    host: options.host,
    port: options.port,
    token: undefined,
    logger: options.logger,
    handle: (request) =>
      metrics.route(request) ??
      Promise.resolve({ status: 404, body: { error: { code: 'SLUICE_NOT_FOUND', message: `${request.method} ${request.path} is not served here: this port serves GET ${METRICS_PATH} (Prometheus) only` } } }),
  });
}

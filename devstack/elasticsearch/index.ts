import type { Logger } from '../../runtime/logging/index.ts';
import { silentLogger } from '../../runtime/logging/index.ts';
import { SluiceError } from '../../runtime/errors/index.ts';
import { Cluster } from './cluster.ts';
import type { ElasticsearchFaults } from './faults.ts';
import { buildRouter } from './routes.ts';
import { EsHttpServer } from './server.ts';

export type { ElasticsearchFaults } from './faults.ts';
export { ES_VERSION } from './version.ts';

/** Options for {@link startElasticsearch}. */
export interface ElasticsearchServerOptions {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** Directory for indices that survive close and restart; default none (in memory only). */
  dataDir?: string;
  /** pino logger; default silent. */
  logger?: Logger;
}

/** A running devstack Elasticsearch server. */
export interface ElasticsearchServer {
  /** The URL to give `new Client({ node })`, e.g. `http://127.0.0.1:49152`. */
  readonly node: string;
  /** The port the server listens on (`http://127.0.0.1:<port>`). */
  readonly port: number;
  /** Fault injection (429s, 503s, latency, refused connections). */
  readonly faults: ElasticsearchFaults;
  /** Stops listening, drops connections and (with a `dataDir`) writes every index as a compact snapshot. */
  close(): Promise<void>;
}

/**
 * Starts an Elasticsearch-API server that speaks enough of the REST API, with the same response and error shapes
 * as an 8.x node, for @elastic/elasticsearch and the Sluice ES sink: index admin, single-document CRUD, bulk,
 * search and count (after refresh, as on a real node), dynamic mapping with real mapping conflicts, persistence
 * and fault injection. See docs/devstack.md.
 *
 * @example
 * ```ts
 * import { Client } from '@elastic/elasticsearch';
 * const es = await startElasticsearch({ dataDir: '/tmp/es-data' });
 * const client = new Client({ node: es.node });
 * await client.index({ index: 'orders', id: '1', document: { total: 12 }, refresh: true });
 * await client.close();
 * await es.close();
 * ```
 */
export async function startElasticsearch(options: ElasticsearchServerOptions = {}): Promise<ElasticsearchServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new SluiceError('SLUICE_DEVSTACK_BAD_OPTION', `startElasticsearch: port must be an integer from 0 to 65535, got ${String(port)}`);
  }
  const logger = options.logger ?? silentLogger();
  let cluster: Cluster;
  try {
    cluster = Cluster.open({ dataDir: options.dataDir, logger });
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError('SLUICE_DEVSTACK_ES_DATA_CORRUPT',
      `the devstack Elasticsearch server cannot load its data directory ${options.dataDir ?? ''}: ${(err as Error).message}`, { cause: err });
  }
  const server = new EsHttpServer(cluster, buildRouter(), logger);
  let boundPort: number;
  try {
    boundPort = await server.listen(host, port);
  } catch (err) {
    cluster.close();
    throw err;
  }
  const node = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  logger.info({ node, dataDir: options.dataDir }, 'devstack elasticsearch listening');
  let closing: Promise<void> | undefined;
  return {
    node,
    port: boundPort,
    faults: server.faults,
    close: () => {
      closing ??= (async () => {
        await server.close();
        cluster.close();
        logger.info({ node }, 'devstack elasticsearch closed');
      })();
      return closing;
    },
  };
}

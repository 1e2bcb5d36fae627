import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Client, type ClientOptions } from '@elastic/elasticsearch';
import { startElasticsearch, type ElasticsearchServer } from '../../devstack/elasticsearch/index.ts';

/**
 * The one way an Elasticsearch test gets a node.
 *
 * With `ES_NODE` set (e.g. `ES_NODE=http://localhost:9200`, credentials in the URL if needed) tests run against
 * that server, which is never assumed empty: every index comes from {@link ElasticsearchTestNode.uniqueIndex} and
 * is deleted in `t.after`. Without it, a devstack server is started on port 0 for this test and closed in `t.after`.
 *
 * @example
 * ```ts
 * test('indexes a document', async (t) => {
 *   const es = await elasticsearchNode(t);
 *   const index = es.uniqueIndex('orders');
 *   await es.client().index({ index, id: '1', document: { total: 3 }, refresh: true });
 * });
 * ```
 */
export interface ElasticsearchTestNode {
  /** The node URL. */
  readonly node: string;
  /** An @elastic/elasticsearch client for this node, closed in `t.after`. Without options: one shared client. */
  client(options?: Omit<ClientOptions, 'node' | 'nodes'>): Client;
  /** A fresh index name (`prefix-<uuid>`), deleted in `t.after`. */
  uniqueIndex(prefix?: string): string;
  /** The devstack server, for fault injection; undefined when `ES_NODE` points at a real server. */
  readonly devstack: ElasticsearchServer | undefined;
  /**
   * Registers a cleanup that runs before the node's own (index deletion, clients, server). Use it rather than
   * `t.after`: `t.after` hooks run first-registered-first, so one added later would run after the server closed.
   */
  defer(cleanup: () => unknown): void;
}

/** Whether tests run against an external server (`ES_NODE`). */
export const externalElasticsearch: string | undefined = process.env['ES_NODE'] === '' ? undefined : process.env['ES_NODE'];

export async function elasticsearchNode(t: TestContext): Promise<ElasticsearchTestNode> {
  const devstack = externalElasticsearch === undefined ? await startElasticsearch() : undefined;
  const node = externalElasticsearch ?? devstack!.node;
  const clients: Client[] = [];
  const indices: string[] = [];
  const deferred: Array<() => unknown> = [];
  let shared: Client | undefined;

  const newClient = (options: Omit<ClientOptions, 'node' | 'nodes'> = {}): Client => {
    const client = new Client({ ...options, node });
    clients.push(client);
    return client;
  };

  t.after(async () => {
    try {
      for (const cleanup of deferred.reverse()) await cleanup();
      if (indices.length > 0) {
        const admin = new Client({ node });
        try {
          await admin.indices.delete({ index: indices, ignore_unavailable: true }, { ignore: [404] });
        } finally {
          await admin.close();
        }
      }
    } finally {
      await Promise.allSettled(clients.map((client) => client.close()));
      await devstack?.close();
    }
  });

  return {
    node,
    devstack,
    client(options) {
      if (options !== undefined) return newClient(options);
      shared ??= newClient();
      return shared;
    },
    defer(cleanup) {
      deferred.push(cleanup);
    },
    uniqueIndex(prefix = 'sluice-test') {
      const name = `${prefix.toLowerCase()}-${randomUUID()}`;
      indices.push(name);
      return name;
    },
  };
}

/**
 * `skip` option for tests that need the devstack itself (fault injection, restarts, its data directory):
 * `test('…', { skip: esDevstackOnly('injects 429s') }, async (t) => …)`. The only acceptable skip.
 */
export function esDevstackOnly(needs: string): string | false {
  return externalElasticsearch === undefined ? false : `needs the devstack Elasticsearch server (${needs}); ES_NODE points at a real server`;
}

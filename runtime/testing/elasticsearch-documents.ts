import { SluiceError } from '../errors/index.ts';

/** A document as stored: its id and `_source`. */
export interface IndexDocument {
  /** The document's id. */
  readonly id: string;
  /** The document's source, as stored. */
  readonly source: unknown;
}

/** Plain HTTP on purpose: the harness needs three read-only calls, and every client version speaks them. */
async function call(node: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(new URL(path, node), {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new SluiceError('SLUICE_TESTING_ELASTICSEARCH', `${method} ${path} on ${node} answered ${response.status}: ${text.slice(0, 300)}`);
  }
  return JSON.parse(text) as unknown;
}

/**
 * Names of the node's indices (hidden `.`-indices left out).
 *
 * @example
 * ```ts
 * const indices = await listIndices('http://127.0.0.1:9200'); // e.g. ['user-clicks']
 * ```
 */
export async function listIndices(node: string): Promise<string[]> {
  const mappings = (await call(node, 'GET', '/_mapping')) as Record<string, unknown>;
  return Object.keys(mappings).filter((name) => !name.startsWith('.')).sort();
}

/**
 * Every document of `index` after a refresh, in index order (`_doc`), paged with `search_after`.
 *
 * @example
 * ```ts
 * const docs = await readIndexDocuments(es.node, 'user-clicks'); // [{ id: 'u1', source: { clicks: 3, ... } }, ...]
 * ```
 */
export async function readIndexDocuments(node: string, index: string): Promise<IndexDocument[]> {
  const path = `/${encodeURIComponent(index)}`;
  await call(node, 'POST', `${path}/_refresh`);
  const out: IndexDocument[] = [];
  let after: unknown[] | undefined;
  for (;;) {
    const page = (await call(node, 'POST', `${path}/_search`, {
      size: 1000,
      sort: ['_doc'],
      query: { match_all: {} },
      ...(after === undefined ? {} : { search_after: after }),
    })) as { hits: { hits: Array<{ _id: string; _source: unknown; sort?: unknown[] }> } };
    const hits = page.hits.hits;
    for (const hit of hits) out.push({ id: hit._id, source: hit._source });
    if (hits.length < 1000) return out;
    after = hits[hits.length - 1]?.sort;
    if (after === undefined) return out;
  }
}

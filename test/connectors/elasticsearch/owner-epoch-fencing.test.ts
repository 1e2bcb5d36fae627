/**
 * Cluster mode's fencing of the Elasticsearch sink: a job run with an owner epoch writes documents with external
 * versions derived from it, so a member that lost the job (an older epoch) cannot overwrite its new owner's
 * documents, while the owner itself may rewrite them (replays after a restart keep the epoch).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection } from '../../../connectors/dev/index.ts';
import { elasticsearchSink } from '../../../connectors/elasticsearch/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';

interface Doc {
  key: string;
  n: number;
}

function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e = err as { code?: string; cause?: unknown } | undefined; e !== undefined && e !== null; e = e.cause as typeof e) if (typeof e.code === 'string') codes.push(e.code);
  return codes;
}

test('a write of an older owner epoch is refused (SLUICE_ES_FENCED) and leaves the newer owner\'s documents; the owner rewrites freely', async (t) => {
  const es = await elasticsearchNode(t);
  const index = es.uniqueIndex('fencing');
  const run = async (ownerEpoch: number | undefined, docs: Doc[]): Promise<unknown> => {
    const job = defineJob({ name: 'es-fencing', parallelism: 1, restart: { type: 'fixed-delay', attempts: 1, delayMs: 10 } }, (env) => {
      env.source(collection(docs)).sink(elasticsearchSink<Doc>({ node: es.node, index, id: (d) => d.key }));
    });
    return new JobRunner({ job, ...(ownerEpoch === undefined ? {} : { ownerEpoch }) }).run().catch((err: unknown) => err);
  };
  const docs = async (): Promise<Record<string, number>> => {
    await es.client().indices.refresh({ index });
    const { hits } = await es.client().search<Doc>({ index, size: 10 });
    return Object.fromEntries(hits.hits.map((h) => [h._id, h._source!.n]));
  };

  assert.equal(await run(2, [{ key: 'a', n: 20 }, { key: 'b', n: 21 }]), 'finished');
  const stale = await run(1, [{ key: 'a', n: 10 }]);
  assert.ok(errorCodes(stale).includes('SLUICE_ES_FENCED'), `fenced, got ${String(stale)}`);
  assert.deepEqual(await docs(), { a: 20, b: 21 }, 'the stale owner changed nothing');

  assert.equal(await run(2, [{ key: 'a', n: 22 }]), 'finished', 'the same owner rewrites (a replay after a restart)');
  assert.equal(await run(3, [{ key: 'b', n: 30 }]), 'finished', 'a newer owner overwrites');
  assert.deepEqual(await docs(), { a: 22, b: 30 });
  const { _version } = await es.client().get({ index, id: 'b' });
  assert.equal(_version, 3 * 2 ** 32, 'the version is the owner epoch times 2^32');
});

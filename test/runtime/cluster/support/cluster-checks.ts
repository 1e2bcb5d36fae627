/**
 * What the cluster tests share: reading a member's view of the cluster, feeding the counting fixtures
 * (`fixtures/counts-*.ts`: `{ key, i }` records in, running counts per key out) and checking their output is exact.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ElasticsearchTestNode } from '../../../support/elasticsearch-node.ts';
import type { KafkaCluster } from '../../../support/kafka-cluster.ts';
import { readCommitted } from '../../../support/kafka-committed.ts';
import { waitFor } from '../../../support/wait-for.ts';

/** `GET /v1/cluster`, the fields the tests read. */
export interface ClusterView {
  readonly generation: number;
  readonly leader: string | null;
  readonly members: ReadonlyArray<{ readonly name: string; readonly url: string; readonly jobs: readonly string[] }>;
  readonly jobs: ReadonlyArray<{ readonly name: string; readonly state: string; readonly owner: string | null; readonly error: string | null; readonly lastCheckpoint: { readonly id: number } | null }>;
}

export async function clusterView(url: string): Promise<ClusterView> {
  const response = await fetch(`${url}/v1/cluster`);
  if (!response.ok) throw new Error(`GET ${url}/v1/cluster: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { cluster: ClusterView }).cluster;
}

/** `POST /v1/jobs` to a member; fails the test unless the cluster took the job. */
export async function submitJob(url: string, body: { file: string; params: Record<string, string> }): Promise<void> {
  const response = await fetch(`${url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(response.status, 201, await response.text());
}

/** Every member that lists each job (one, unless the cluster is wrong). */
export function jobOwners(view: ClusterView): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of view.members) for (const job of m.jobs) out.set(job, [...(out.get(job) ?? []), m.name]);
  return out;
}

/** The member running each job. */
export function owners(view: ClusterView): Map<string, string> {
  return new Map([...jobOwners(view)].map(([job, names]) => [job, names[0]!]));
}

/** Records `{ key, i }` for i in [from, to), keyed `k<i mod keys>`. */
export async function produceCounted(kafka: KafkaCluster, topic: string, from: number, to: number, keys: number): Promise<void> {
  const producer = await kafka.producer();
  const messages = [];
  for (let i = from; i < to; i++) messages.push({ key: `k${i % keys}`, value: JSON.stringify({ key: `k${i % keys}`, i }) });
  for (let n = 0; n < messages.length; n += 500) await producer.send({ topic, messages: messages.slice(n, n + 500) });
}

/**
 * Keeps producing {@link produceCounted} records from `from` on, 60 every 50 ms, until `stop()`, which resolves with
 * how many records there are in all (the next `i`).
 */
export function keepProducing(kafka: KafkaCluster, topic: string, from: number, keys: number): { stop(): Promise<number> } {
  let produced = from;
  let producing = true;
  const loop = (async () => {
    while (producing) {
      await produceCounted(kafka, topic, produced, produced + 60, keys);
      produced += 60;
      await sleep(50);
    }
  })();
  return {
    async stop() {
      producing = false;
      await loop;
      return produced;
    },
  };
}

/**
 * The committed output of a counting job holds one record per input, each key's counts 1, 2, 3, … over its inputs in
 * order. Read with kafka-committed.ts, not a kafkajs read_committed consumer: kafkajs lets aborted records through
 * when transactions interleave, which a failover leaves behind.
 */
export async function assertExactCounts(kafka: KafkaCluster, output: string, records: number): Promise<void> {
  const { committed } = await waitFor(
    async () => {
      const contents = await readCommitted(kafka, output, 2);
      return contents.committed.length >= records ? contents : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 1_000, message: `all ${records} counts committed to ${output}` },
  );
  assert.equal(committed.length, records, 'one output record per input record: nothing lost, nothing repeated');
  const byKey = new Map<string, Array<{ i: number; n: number }>>();
  for (const r of committed) {
    const v = JSON.parse(r.value) as { key: string; i: number; n: number };
    byKey.set(v.key, [...(byKey.get(v.key) ?? []), v]);
  }
  for (const [key, updates] of byKey) {
    assert.deepEqual(updates.map((u) => u.n), updates.map((_, n) => n + 1), `counts of ${key} in order`);
    const inputs = updates.map((u) => u.i);
    assert.deepEqual(inputs, [...inputs].sort((a, b) => a - b), `inputs of ${key} in order`);
  }
}

/** Every document of `index` holds its key's count of `records` inputs spread over `keys` keys. */
export async function assertExactDocuments(es: ElasticsearchTestNode, index: string, records: number, keys: number): Promise<void> {
  const client = es.client();
  await waitFor(
    async () => {
      await client.indices.refresh({ index });
      const { hits } = await client.search<{ key: string; n: number }>({ index, size: 100 });
      const docs = new Map(hits.hits.map((h) => [h._id, h._source!.n]));
      return [...Array(keys).keys()].every((k) => docs.get(`k${k}`) === Math.ceil((records - k) / keys));
    },
    { timeoutMs: 60_000, intervalMs: 500, message: "every document holds its key's full count" },
  );
}

/**
 * A stretch of a counting job's life: it counted inputs `from` ≤ i < `to` (records of `produceCounted`), starting
 * from the state the inputs 0 ≤ i < `stateOf` had built (0: no state). A restore from a checkpoint taken after input
 * 2,999 that then reads 3,000–3,999 again is `{ from: 3_000, to: 4_000, stateOf: 3_000 }`.
 */
export interface CountedRun {
  readonly from: number;
  readonly to: number;
  readonly stateOf: number;
}

/**
 * The committed output of a counting job is exactly what `runs` give, one after the other: per key, every output
 * record `{ i, n }` in order, n being the key's count. Waits until that many records are committed.
 */
export async function assertCountedOutput(kafka: KafkaCluster, output: string, runs: readonly CountedRun[], keys: number): Promise<void> {
  const inKey = (k: number, from: number, to: number): number => Math.max(0, Math.ceil((to - k) / keys) - Math.ceil((from - k) / keys));
  const expected = new Map<string, Array<{ i: number; n: number }>>();
  for (const run of runs) {
    for (let i = run.from; i < run.to; i++) {
      const k = i % keys;
      expected.set(`k${k}`, [...(expected.get(`k${k}`) ?? []), { i, n: inKey(k, 0, run.stateOf) + inKey(k, run.from, i + 1) }]);
    }
  }
  const total = runs.reduce((n, run) => n + run.to - run.from, 0);
  const { committed } = await waitFor(
    async () => {
      const contents = await readCommitted(kafka, output, 2);
      return contents.committed.length >= total ? contents : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 1_000, message: `${total} counts committed to ${output}` },
  );
  const actual = new Map<string, Array<{ i: number; n: number }>>();
  for (const r of committed) {
    const v = JSON.parse(r.value) as { key: string; i: number; n: number };
    actual.set(v.key, [...(actual.get(v.key) ?? []), { i: v.i, n: v.n }]);
  }
  assert.equal(committed.length, total, 'one output record per input the runs counted: nothing lost, nothing repeated');
  for (const [key, records] of expected) assert.deepEqual(actual.get(key), records, `the counts of ${key}, in order`);
}

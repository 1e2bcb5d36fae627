/**
 * A member whose group session ran out while its jobs ran on: the gap between a process resuming past its session
 * (SIGSTOP, a long pause) and its heartbeat loop noticing the loss, stretched by freezing only the heartbeats. In that
 * gap nothing the member does may count: no checkpoint of it commits, no new attempt of it starts.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { ReplicatedJobView } from '../../../runtime/cluster/checkpoints/replicated-view.ts';
import { clusterMemberTestHooks } from '../../../runtime/cluster/cluster-member.ts';
import { clusterTopics } from '../../../runtime/cluster/kafka/cluster-topics.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { waitFor } from '../../support/wait-for.ts';
import { assertExactCounts, clusterView, owners } from './support/cluster-checks.ts';
import { KEYS, settled, setup } from './support/in-process-cluster.ts';

test('an owner whose session ran out while its job ran on commits nothing more and starts no attempt; the output stays exact', async (t) => {
  const s = await setup(t, 2_000);
  await s.join('a');
  await s.join('b');
  const output = await s.submit('stale');
  const before = await settled(s, 1);
  const stale = s.members.find((m) => m.name === before.get('stale'))!;
  const next = s.members.find((m) => m !== stale)!;

  // Records keep coming all along, so the stale owner always has output to commit while the job moves.
  const producer = await s.kafka.producer();
  let produced = 2_000;
  let feeding = true;
  const feed = (async () => {
    while (feeding) {
      const batch = Array.from({ length: 50 }, (_, n) => produced + n).map((i) => ({ key: `k${i % KEYS}`, value: JSON.stringify({ key: `k${i % KEYS}`, i }) }));
      await producer.send({ topic: s.input, messages: batch });
      produced += batch.length;
      await sleep(50);
    }
  })();

  // Leaving the group (the test's cleanup) thaws it too, should the test fail before it thaws.
  const thaw = clusterMemberTestHooks(stale).freezeMembership();
  await waitFor(async () => owners(await clusterView(next.url)).get('stale') === next.name, { timeoutMs: 60_000, intervalMs: 200, message: 'the job moved to the other member' });
  // The new owner claimed the job and replicated checkpoints of its own, while the stale one still ran.
  await waitFor(
    async () => {
      const view = await ReplicatedJobView.read({ kafka: s.kafka.kafka(), topic: clusterTopics(s.cluster).checkpoints, partitions: 1, job: 'stale', logger: silentLogger() });
      const claim = view.claim;
      return claim?.member === next.name && view.candidates.filter((r) => r.epoch === claim.epoch).length >= 3;
    },
    { timeoutMs: 60_000, intervalMs: 200, message: 'checkpoints replicated by the new owner' },
  );
  feeding = false;
  await feed;
  thaw();
  await waitFor(async () => (await clusterView(next.url)).members.length === 2, { timeoutMs: 60_000, intervalMs: 200, message: 'the stale member back in the group' });

  await assertExactCounts(s.kafka, output, produced);
  assert.equal(owners(await clusterView(next.url)).get('stale'), next.name, 'the job stays with its new owner');
});

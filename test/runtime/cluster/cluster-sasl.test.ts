/**
 * A cluster on brokers that require SASL (and TLS): the member's own Kafka client (group, cluster topics, replicated
 * checkpoints) authenticates with `kafka.sasl` — from `sluice start --kafka-ssl --kafka-sasl --kafka-user` too — and
 * wrong credentials stop the start at once with a message that says what to check, instead of retrying as if the
 * brokers were down.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startClusterMember } from '../../../runtime/cluster/cluster-member.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { ROOT, startService } from '../../service/service-process.ts';
import { TEST_TLS } from '../../support/tls-fixture.ts';
import { devstackOnly, kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { clusterView } from './support/cluster-checks.ts';

const USER = { username: 'sluice', password: 'sluice-secret' };
const needs = devstackOnly('starts a broker whose listener requires SASL/PLAIN');

test('a member on SASL brokers (SCRAM-SHA-512) joins its cluster and replicates a job\'s checkpoints', { skip: needs }, async (t) => {
  const kafka = await kafkaCluster(t, { sasl: USER });
  const cluster = kafka.uniqueName('c');
  const member = await startClusterMember({
    cluster,
    brokers: kafka.brokers,
    kafka: { sasl: { mechanism: 'scram-sha-512', ...USER } },
    dataDir: await tempDir(t, 'sluice-sasl-member-'),
    name: 'a',
    port: 0,
    workers: 0,
    logger: silentLogger(),
  });
  kafka.defer(() => member.close());

  const dir = await tempDir(t, 'sluice-sasl-job-');
  const file = join(dir, 'ticks.ts');
  await writeFile(
    file,
    `import { defineJob } from '${join(ROOT, 'runtime/api/index.ts')}';
import { datagen, collectSink } from '${join(ROOT, 'connectors/dev/index.ts')}';
export default defineJob({ name: 'ticks', checkpoints: { intervalMs: 200 } }, (env) => {
  env.source(datagen({ record: (i) => i, ratePerSecond: 500 })).keyBy((i) => String(i % 4)).reduce((a, b) => a + b).sink(collectSink());
});
`,
  );
  const submitted = await fetch(`${member.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ file }) });
  assert.equal(submitted.status, 201, await submitted.text());
  const job = await waitFor(async () => (await clusterView(member.url)).jobs.find((j) => j.name === 'ticks' && (j.lastCheckpoint?.id ?? 0) >= 2), {
    timeoutMs: 60_000,
    intervalMs: 200,
    message: 'the job running with replicated checkpoints',
  });
  assert.equal(job.owner, 'a');
});

test('a member whose SASL password is wrong fails to start with SLUICE_CLUSTER_KAFKA_AUTH', { skip: needs }, async (t) => {
  const kafka = await kafkaCluster(t, { sasl: USER });
  await assert.rejects(
    startClusterMember({
      cluster: kafka.uniqueName('c'),
      brokers: kafka.brokers,
      kafka: { sasl: { mechanism: 'plain', username: 'sluice', password: 'wrong' } },
      dataDir: await tempDir(t, 'sluice-sasl-wrong-'),
      port: 0,
      workers: 0,
      logger: silentLogger(),
    }),
    (err: { code?: string; message: string }) => {
      assert.equal(err.code, 'SLUICE_CLUSTER_KAFKA_AUTH');
      assert.match(err.message, /refused the member's credentials .*Invalid username or password.*check --kafka-sasl, --kafka-user and \$SLUICE_KAFKA_PASSWORD/);
      return true;
    },
  );
});

test('sluice start --cluster --kafka-ssl --kafka-sasl scram-sha-512 joins a cluster on SASL_SSL brokers', { skip: needs }, async (t) => {
  const kafka = await kafkaCluster(t, { sasl: { ...USER, mechanism: 'scram-sha-512' }, tls: true });
  const cluster = kafka.uniqueName('c');
  const args = ['--cluster', cluster, '--brokers', kafka.brokers.join(','), '--name', 'cli', '--data-dir', await tempDir(t, 'sluice-sasl-cli-'), '--workers', '0'];
  // The member trusts the test certificate as node does any extra CA; the password comes from the environment only.
  const env = { NODE_EXTRA_CA_CERTS: TEST_TLS.certPath, SLUICE_KAFKA_PASSWORD: USER.password };
  const member = await startService(t, [...args, '--kafka-ssl', '--kafka-sasl', 'scram-sha-512', '--kafka-user', USER.username], env);
  kafka.defer(async () => {
    member.child.kill('SIGKILL');
    await member.exited;
  });
  const view = await waitFor(async () => {
    const v = await clusterView(member.url);
    return v.members.length === 1 ? v : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200, message: 'the member in its cluster' });
  assert.equal(view.members[0]?.name, 'cli');
});

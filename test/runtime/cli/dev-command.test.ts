import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { ROOT, sluice } from '../../service/service-process.ts';
import { waitFor } from '../../support/wait-for.ts';

test('sluice dev --kafka-user starts a broker that requires SASL as that user, with the password from the environment', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'dev', '--kafka-port', '0', '--no-elasticsearch', '--kafka-user', 'alice', '--log-level', 'warn'], {
    cwd: ROOT,
    env: { ...process.env, SLUICE_KAFKA_PASSWORD: 'alice-secret' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const broker = await waitFor(() => /KAFKA_BROKERS=(\S+)\)/.exec(stdout)?.[1], { timeoutMs: 30_000, message: 'the broker address' });
  // The banner's lines may reach the pipe in separate chunks: wait for the SASL line too, rather than expect it with the first.
  await waitFor(() => /Kafka SASL: +user "alice"/.test(stdout), { timeoutMs: 30_000, message: 'the SASL line of the banner', describe: () => stdout });

  const admin = new Kafka({ brokers: [broker], logLevel: logLevel.NOTHING, sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'alice-secret' } }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'secured', numPartitions: 1, replicationFactor: 1 }] });
    assert.ok((await admin.listTopics()).includes('secured'));
  } finally {
    await admin.disconnect();
  }
  const anonymous = new Kafka({ brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await anonymous.connect(); // ApiVersions only
  try {
    await assert.rejects(anonymous.listTopics(), { name: 'KafkaJSConnectionClosedError' });
  } finally {
    await anonymous.disconnect();
  }

  child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0);
  assert.match(stdout, /devstack stopped/);
});

test('sluice dev --kafka-user without $SLUICE_KAFKA_PASSWORD is a usage error that says where the password goes', async () => {
  const outcome = await sluice(['dev', '--kafka-port', '0', '--no-elasticsearch', '--kafka-user', 'alice'], { SLUICE_KAFKA_PASSWORD: '' });
  assert.equal(outcome.code, 2);
  assert.match(outcome.stderr, /--kafka-user alice needs its password in \$SLUICE_KAFKA_PASSWORD \(it is never taken from a flag\)/);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kafkaSecurity } from '../../../runtime/cli/kafka-security.ts';

const USAGE = 'usage';

test('Kafka security flags become kafkajs ssl and sasl options; the password comes only from the environment', () => {
  assert.deepEqual(kafkaSecurity({}, {}, USAGE), {});
  assert.deepEqual(kafkaSecurity({ 'kafka-ssl': true }, {}, USAGE), { ssl: true });
  assert.deepEqual(kafkaSecurity({ 'kafka-sasl': 'SCRAM-SHA-512', 'kafka-user': 'sluice' }, { SLUICE_KAFKA_PASSWORD: 's3cret' }, USAGE), {
    sasl: { mechanism: 'scram-sha-512', username: 'sluice', password: 's3cret' },
  });
  assert.deepEqual(kafkaSecurity({ 'kafka-ssl': true, 'kafka-sasl': 'plain' }, { SLUICE_KAFKA_USER: 'env-user', SLUICE_KAFKA_PASSWORD: 'pw' }, USAGE), {
    ssl: true,
    sasl: { mechanism: 'plain', username: 'env-user', password: 'pw' },
  });
});

test('each missing or wrong piece of Kafka security is a usage error that says what to add', () => {
  const cases: Array<[Parameters<typeof kafkaSecurity>[0], NodeJS.ProcessEnv, RegExp]> = [
    [{ 'kafka-sasl': 'gssapi' }, {}, /--kafka-sasl expects plain, scram-sha-256, scram-sha-512, got "gssapi"/],
    [{ 'kafka-sasl': 'plain' }, { SLUICE_KAFKA_PASSWORD: 'pw' }, /needs a user: --kafka-user <name> or \$SLUICE_KAFKA_USER/],
    [{ 'kafka-sasl': 'plain', 'kafka-user': 'sluice' }, {}, /needs the password of "sluice" in \$SLUICE_KAFKA_PASSWORD/],
    [{ 'kafka-user': 'sluice' }, {}, /--kafka-user needs --kafka-sasl <mechanism>/],
  ];
  for (const [values, env, message] of cases) {
    assert.throws(() => kafkaSecurity(values, env, USAGE), (err: Error) => err.name === 'UsageError' && message.test(err.message), message.source);
  }
});

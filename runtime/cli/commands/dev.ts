import { resolve } from 'node:path';
import { startElasticsearch } from '../../../devstack/elasticsearch/index.ts';
import { startKafkaBroker } from '../../../devstack/kafka/index.ts';
import type { Logger } from '../../logging/index.ts';
import { parseCommandLine } from '../arguments.ts';
import { kafkaPassword } from '../kafka-security.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const DEV_USAGE = `Usage: sluice dev [options]

Starts the devstack — a Kafka-protocol broker and an Elasticsearch-API server — and runs until Ctrl-C.

Options:
      --host <host>          interface for both servers (default: 127.0.0.1)
      --kafka-port <port>    Kafka broker port (default: 9092; 0 picks a free one)
      --es-port <port>       Elasticsearch port (default: 9200; 0 picks a free one)
      --partitions <n>       partitions of auto-created topics (default: 1)
      --data-dir <dir>       keep topics, offsets and indices across restarts (default: in memory)
      --no-elasticsearch     start only the Kafka broker
      --kafka-user <name>    require SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) as this user, whose password is
                             read from $SLUICE_KAFKA_PASSWORD: rehearse a secured cluster's client settings
  -h, --help                 show this help`;

/** `sluice dev`: returns the exit code once stopped with Ctrl-C (or SIGTERM). */
export async function devCommand(args: readonly string[], logger: Logger, out: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    {
      host: { type: 'string' },
      'kafka-port': { type: 'string' },
      'es-port': { type: 'string' },
      partitions: { type: 'string' },
      'data-dir': { type: 'string' },
      'no-elasticsearch': { type: 'boolean' },
      'kafka-user': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    DEV_USAGE,
  );
  if (values.help === true) {
    out.write(`${DEV_USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, DEV_USAGE);
  const host = values.host ?? '127.0.0.1';
  const kafkaPort = port('--kafka-port', values['kafka-port'], 9092);
  const esPort = port('--es-port', values['es-port'], 9200);
  const partitions = values.partitions === undefined ? 1 : Number(values.partitions);
  if (!Number.isInteger(partitions) || partitions < 1) throw new UsageError(`--partitions expects a positive integer, got "${values.partitions}"`, DEV_USAGE);
  const dataDir = values['data-dir'] === undefined ? undefined : resolve(values['data-dir']);
  const user = values['kafka-user'];
  if (user === '') throw new UsageError('--kafka-user needs a name', DEV_USAGE);
  const password = user === undefined ? undefined : kafkaPassword(process.env, `--kafka-user ${user} needs its password`, DEV_USAGE);

  const kafka = await startKafkaBroker({
    host,
    port: kafkaPort,
    numPartitions: partitions,
    logger: logger.child({ devstack: 'kafka' }),
    ...(dataDir === undefined ? {} : { dataDir: resolve(dataDir, 'kafka') }),
    ...(user === undefined || password === undefined ? {} : { sasl: { users: { [user]: password } } }),
  });
  const es = values['no-elasticsearch'] === true
    ? undefined
    : await startElasticsearch({
        host,
        port: esPort,
        logger: logger.child({ devstack: 'elasticsearch' }),
        ...(dataDir === undefined ? {} : { dataDir: resolve(dataDir, 'elasticsearch') }),
      }).catch(async (err: unknown) => {
        await kafka.close();
        throw err;
      });
  out.write(`Kafka broker:          ${kafka.brokers.join(',')}   (KAFKA_BROKERS=${kafka.brokers.join(',')})\n`);
  if (user !== undefined) out.write(`Kafka SASL:            user "${user}" (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), password from $SLUICE_KAFKA_PASSWORD\n`);
  if (es !== undefined) out.write(`Elasticsearch server:  ${es.node}   (ES_NODE=${es.node})\n`);
  out.write(`${dataDir === undefined ? 'In memory' : `Data in ${dataDir}`}. Ctrl-C stops.\n`);

  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await Promise.all([kafka.close(), es?.close()]);
  out.write('devstack stopped\n');
  return EXIT.ok;
}

function port(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new UsageError(`${flag} expects a port from 0 to 65535, got "${value}"`, DEV_USAGE);
  return n;
}

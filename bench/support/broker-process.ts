/**
 * Runs the devstack Kafka broker alone in this process, so a benchmark's kafkajs client and the broker do not share
 * an event loop (in one process the client's own CPU time would be charged to the broker and vice versa).
 *
 * Usage: `node --import tsx bench/support/broker-process.ts [--data-dir DIR] [--partitions N]`.
 * Prints one JSON line `{"brokers":["127.0.0.1:PORT"]}` on stdout once listening; closes the broker and exits on
 * SIGTERM, SIGINT or when stdin ends (so it never outlives a parent that died).
 */
import { parseArgs } from 'node:util'
import { startKafkaBroker } from '../../devstack/kafka/index.ts'

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    partitions: { type: 'string', default: '1' },
    port: { type: 'string', default: '0' },
  },
})

const broker = await startKafkaBroker({
  host: '127.0.0.1',
  port: Number(values.port),
  numPartitions: Number(values.partitions),
  ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
})
process.stdout.write(`${JSON.stringify({ brokers: broker.brokers })}\n`)

let stopping = false
const stop = async (): Promise<void> => {
  if (stopping) return
  stopping = true
  try {
    await broker.close()
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())
process.stdin.on('end', () => void stop())
process.stdin.resume()

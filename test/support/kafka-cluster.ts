/**
 * The one way a test gets a Kafka cluster.
 *
 * With `KAFKA_BROKERS=host:port[,host:port]` set, tests run against that (real) cluster: it is never assumed to be
 * empty, every topic and group a test names comes from `uniqueName()`, and whatever of those exists at the end is
 * deleted. Otherwise a devstack broker (`devstack/kafka`) is started on port 0 for the test and closed after it.
 *
 * Clients made through the cluster (`admin()`, `producer()`, `consumer()`, `collect()`) are disconnected when the
 * test ends, before the broker closes; a devstack broker that still has client connections then fails the test,
 * naming their clientIds (see `clientsLeftConnected`). Register your own cleanups with `cluster.defer(fn)` rather
 * than `t.after`: `t.after` hooks run first-registered-first, so one added after `kafkaCluster()` would run after the
 * broker is gone (and its clients would count as left connected).
 *
 * @example
 * test('records come back in order', async (t) => {
 *   const cluster = await kafkaCluster(t)
 *   const topic = await cluster.createTopic({ partitions: 2 })
 *   const producer = await cluster.producer()
 *   await producer.send({ topic, messages: [{ key: 'k', value: 'v' }] })
 *   const { records } = await cluster.collect(topic)
 *   await waitFor(() => records.length === 1, { message: 'one record' })
 * })
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import net, { type Socket } from 'node:net'
import tls from 'node:tls'
import { Kafka, logLevel } from 'kafkajs'
import type {
  Admin,
  ISocketFactory,
  Consumer,
  ConsumerConfig,
  IHeaders,
  KafkaConfig,
  Producer,
  ProducerConfig,
  SASLOptions,
} from 'kafkajs'
import type { startKafkaBroker } from '../../devstack/kafka/index.ts'
import { leakGraceMs } from './open-handles.ts'
import { TEST_TLS } from './tls-fixture.ts'

export type DevstackBroker = Awaited<ReturnType<typeof startKafkaBroker>>

/** `KAFKA_BROKERS`, split; empty when tests run against the devstack broker. */
export const externalBrokers: string[] = (process.env.KAFKA_BROKERS ?? '')
  .split(',')
  .map((b) => b.trim())
  .filter((b) => b.length > 0)

export const againstRealKafka = externalBrokers.length > 0

/**
 * `skip` option for tests that need the devstack (fault injection, restarts, its data directory):
 * `test('…', { skip: devstackOnly('drops every connection') }, async (t) => …)`.
 */
export function devstackOnly(needs: string): string | false {
  return againstRealKafka ? `needs the devstack broker (${needs}); KAFKA_BROKERS points at a real cluster` : false
}

export interface KafkaClusterOptions {
  /** Devstack only: default partition count of auto-created topics. Default 1. */
  numPartitions?: number
  /** Devstack only. Default true. */
  autoCreateTopics?: boolean
  /** Devstack only: give the broker a fresh data directory (removed after the test), so `restart()` keeps data. */
  persistent?: boolean
  /** Devstack only: how often its log cleaner looks for compacted partitions to clean (Kafka's default: 15 s). */
  logCleanerBackoffMs?: number
  /** Devstack only: how often it checks segments against retention.ms and retention.bytes (Kafka's default: 5 min). */
  logRetentionCheckIntervalMs?: number
  /**
   * Devstack only: the broker requires SASL (a SASL_PLAINTEXT listener) with this one user, and every client made
   * through the cluster authenticates as it, with `mechanism` (default plain).
   */
  sasl?: { username: string; password: string; mechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512' }
  /**
   * Devstack only: the broker listens with TLS (the test-only certificate of test/fixtures/tls), and every client made
   * through the cluster trusts that certificate.
   */
  tls?: boolean
}

export interface CollectedRecord {
  topic: string
  partition: number
  offset: string
  key: string | null
  value: string | null
  headers: IHeaders
  timestamp: string
}

export interface CollectOptions {
  groupId?: string
  fromBeginning?: boolean
  readUncommitted?: boolean
  consumer?: Partial<ConsumerConfig>
}

export interface KafkaCluster {
  readonly brokers: string[]
  /** The devstack broker's handle (faults, close); undefined against real Kafka. */
  readonly devstack: DevstackBroker | undefined
  /** Devstack only: the broker's data directory when started with `persistent: true`. */
  readonly dataDir: string | undefined
  /** A quiet kafkajs client for this cluster (logs at DEBUG when `DEBUG_KAFKA` is set). */
  kafka(config?: Partial<KafkaConfig>): Kafka
  /** A connected admin client, disconnected when the test ends. */
  admin(): Promise<Admin>
  /** A connected producer, disconnected when the test ends. */
  producer(config?: ProducerConfig): Promise<Producer>
  /**
   * A connected consumer, disconnected when the test ends. Defaults: a unique groupId, and `maxWaitTimeInMs: 500`
   * because kafkajs's disconnect() waits out the fetch in flight.
   */
  consumer(config?: Partial<ConsumerConfig>): Promise<Consumer>
  /** Subscribes a fresh consumer to `topic` and runs it, pushing every message into `records`. */
  collect(topic: string, options?: CollectOptions): Promise<{ consumer: Consumer; records: CollectedRecord[] }>
  /** `${prefix}-${uuid}`; remembered, so topics and groups of that name are deleted from real clusters afterwards. */
  uniqueName(prefix: string): string
  /** Creates a topic with a unique name (or `name`), and topic `configs` if given, and waits for its leaders. */
  createTopic(options?: { partitions?: number; prefix?: string; name?: string; configs?: Record<string, string> }): Promise<string>
  /** Runs `fn` when the test ends, before clients created earlier disconnect and before the broker closes. */
  defer(fn: () => unknown): void
  /** Devstack only: closes the broker and starts it again on the same address and data directory. */
  restart(): Promise<void>
}

/** Says which helper made a client, so a connection left open is traced to it: `sluice-test-producer-1a2b3c4d`. */
const testClientId = (kind: string): string => `sluice-test-${kind}-${randomUUID().slice(0, 8)}`

const quietLevel = process.env.DEBUG_KAFKA ? logLevel.DEBUG : logLevel.NOTHING

/**
 * Waits (at most `leakGraceMs`) until no client is connected to the devstack broker, once the test's clients were
 * disconnected; returns an error naming the clients still connected. Why here: closing the broker would close their
 * sockets too, hiding a client that product code never disconnected (against a real cluster it stays open and the
 * test process never exits). `leak-guard.ts` catches the same leaks then, but cannot tell whose connection it is.
 */
async function clientsLeftConnected(broker: DevstackBroker): Promise<Error | undefined> {
  const deadline = Date.now() + leakGraceMs
  let open = broker.clientConnections()
  while (open.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    open = broker.clientConnections()
  }
  if (open.length === 0) return undefined
  const byClient = new Map<string, number[]>()
  for (const c of open) {
    const id = c.clientId === undefined ? '(no request sent yet)' : `clientId "${c.clientId}"`
    byClient.set(id, [...(byClient.get(id) ?? []), c.remotePort ?? 0])
  }
  const lines = [...byClient].map(([id, ports]) => `  ${id}: ${ports.length} connection(s) from port ${ports.join(', ')}`)
  return new Error(
    `${open.length} kafkajs connection(s) still open to the devstack broker ${leakGraceMs} ms after the test's clients ` +
      `were disconnected (a producer, consumer, admin or cluster never disconnected, or reconnected after it):\n${lines.join('\n')}`,
  )
}

export async function kafkaCluster(t: TestContext, options: KafkaClusterOptions = {}): Promise<KafkaCluster> {
  const cleanups: Array<() => unknown> = []
  const names = new Set<string>()
  const defer = (fn: () => unknown): void => {
    cleanups.push(fn)
  }

  let devstack: DevstackBroker | undefined
  let dataDir: string | undefined
  let brokers: string[]
  let start: ((port: number) => Promise<DevstackBroker>) | undefined

  /**
   * Sockets of the test's own kafkajs clients (`kafka()` and what is made from it), closed once the test's cleanups
   * ran. Why: a consumer whose broker restarted keeps its group coordinator's connection outside the cluster's broker
   * pool, where disconnect() never reaches it (kafkajs 2.2.4; Sluice's own clients use no consumer groups). The error
   * makes kafkajs release the connection's timers too. Clients made by product code are not in here, so the broker
   * check below still sees theirs.
   */
  const testSockets = new Set<Socket>()

  // Registered before anything can fail, so a half-built cluster is still torn down.
  t.after(async () => {
    const errors: unknown[] = []
    for (const fn of cleanups.reverse()) {
      try {
        await fn()
      } catch (err) {
        errors.push(err)
      }
    }
    for (const socket of testSockets) socket.destroy(new Error('closed by the test cleanup'))
    if (devstack) {
      const leaked = await clientsLeftConnected(devstack)
      if (leaked !== undefined) errors.push(leaked)
      await devstack.close()
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
    // The messages go into the AggregateError's own: node:test reports only that one.
    if (errors.length === 1) throw errors[0]
    if (errors.length > 1) {
      throw new AggregateError(errors, `kafka test cleanup failed: ${errors.map((e) => (e as Error)?.message ?? String(e)).join('; ')}`)
    }
  })

  if (againstRealKafka) {
    brokers = externalBrokers
  } else {
    // Imported lazily so that runs against real Kafka do not depend on the devstack's code at all.
    const mod = await import('../../devstack/kafka/index.ts')
    if (options.persistent) dataDir = await mkdtemp(join(tmpdir(), 'sluice-kafka-test-'))
    start = (port: number) =>
      mod.startKafkaBroker({
        host: '127.0.0.1',
        port,
        numPartitions: options.numPartitions ?? 1,
        autoCreateTopics: options.autoCreateTopics ?? true,
        ...(dataDir === undefined ? {} : { dataDir }),
        ...(options.logCleanerBackoffMs === undefined ? {} : { logCleanerBackoffMs: options.logCleanerBackoffMs }),
        ...(options.logRetentionCheckIntervalMs === undefined ? {} : { logRetentionCheckIntervalMs: options.logRetentionCheckIntervalMs }),
        ...(options.sasl === undefined ? {} : { sasl: { users: { [options.sasl.username]: options.sasl.password } } }),
        ...(options.tls === true ? { tls: { key: TEST_TLS.key, cert: TEST_TLS.cert } } : {}),
      })
    devstack = await start(0)
    brokers = devstack.brokers
  }

  const kafka = (config: Partial<KafkaConfig> = {}): Kafka => {
    const factory: ISocketFactory =
      config.socketFactory ??
      // As kafkajs's own factory: TLS when the client has `ssl` (SNI only for host names), else plain TCP.
      (({ host, port, ssl, onConnect }) =>
        (!ssl
          ? net.connect({ host, port }, onConnect)
          : tls.connect({ host, port, ...(net.isIP(host) === 0 ? { servername: host } : {}), ...(typeof ssl === 'object' ? ssl : {}) }, onConnect)
        ).setKeepAlive(true, 60_000))
    return new Kafka({
      clientId: testClientId('client'),
      logLevel: quietLevel,
      ...(options.sasl === undefined ? {} : { sasl: { mechanism: options.sasl.mechanism ?? 'plain', username: options.sasl.username, password: options.sasl.password } as SASLOptions }),
      ...(options.tls === true ? { ssl: { ca: [TEST_TLS.cert] } } : {}),
      ...config,
      brokers,
      socketFactory: (args) => {
        const socket = factory(args) as Socket
        testSockets.add(socket)
        socket.once('close', () => testSockets.delete(socket))
        return socket
      },
    })
  }

  const uniqueName = (prefix: string): string => {
    const name = `${prefix}-${randomUUID()}`
    names.add(name)
    return name
  }

  // A Sluice cluster named by uniqueName() makes its own group and topics: sluice.<name> and sluice.<name>.*.
  const isOurs = (name: string): boolean => names.has(name) || (name.startsWith('sluice.') && names.has(name.slice('sluice.'.length).replace(/\.(jobs|status|checkpoints)$/, '')))

  // Against a shared cluster, delete what this test created. Best effort: a failure here says nothing about the
  // behaviour under test, and the names are unique anyway.
  if (againstRealKafka) {
    defer(async () => {
      const admin = kafka().admin()
      try {
        await admin.connect()
        const { groups } = await admin.listGroups()
        const ours = groups.map((g) => g.groupId).filter(isOurs)
        if (ours.length > 0) await admin.deleteGroups(ours).catch(() => undefined)
        const topics = (await admin.listTopics()).filter(isOurs)
        if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined)
      } catch {
        // ignored: see above
      } finally {
        await admin.disconnect().catch(() => undefined)
      }
    })
  }

  const admin = async (): Promise<Admin> => {
    const client = kafka({ clientId: testClientId('admin') }).admin()
    defer(() => client.disconnect())
    await client.connect()
    return client
  }

  const producer = async (config: ProducerConfig = {}): Promise<Producer> => {
    const client = kafka({ clientId: testClientId('producer') }).producer(config)
    defer(() => client.disconnect())
    await client.connect()
    return client
  }

  const consumer = async (config: Partial<ConsumerConfig> = {}): Promise<Consumer> => {
    // A short long-poll: kafkajs's disconnect() waits for the fetch in flight, 5 s with the default maxWaitTimeInMs.
    const client = kafka({ clientId: testClientId('consumer') }).consumer({ groupId: uniqueName('group'), maxWaitTimeInMs: 500, ...config })
    defer(() => client.disconnect())
    await client.connect()
    return client
  }

  const collect = async (
    topic: string,
    opts: CollectOptions = {},
  ): Promise<{ consumer: Consumer; records: CollectedRecord[] }> => {
    const client = await consumer({
      ...opts.consumer,
      groupId: opts.groupId ?? uniqueName('group'),
      ...(opts.readUncommitted === undefined ? {} : { readUncommitted: opts.readUncommitted }),
    })
    const records: CollectedRecord[] = []
    await client.subscribe({ topic, fromBeginning: opts.fromBeginning ?? true })
    await client.run({
      eachMessage: async ({ topic: tp, partition, message }) => {
        records.push({
          topic: tp,
          partition,
          offset: message.offset,
          key: message.key === null ? null : message.key.toString(),
          value: message.value === null ? null : message.value.toString(),
          headers: message.headers ?? {},
          timestamp: message.timestamp,
        })
      },
    })
    return { consumer: client, records }
  }

  let sharedAdmin: Admin | undefined
  const createTopic = async (
    opts: { partitions?: number; prefix?: string; name?: string; configs?: Record<string, string> } = {},
  ): Promise<string> => {
    const topic = opts.name ?? uniqueName(opts.prefix ?? 'topic')
    sharedAdmin ??= await admin()
    // replicationFactor is explicit: kafkajs sends -1 ("broker default") otherwise, which Kafka accepts only
    // since 2.4 (KIP-464); 2.1 answers INVALID_REPLICATION_FACTOR.
    await sharedAdmin.createTopics({
      topics: [{
        topic,
        numPartitions: opts.partitions ?? 1,
        replicationFactor: 1,
        configEntries: Object.entries(opts.configs ?? {}).map(([name, value]) => ({ name, value })),
      }],
      waitForLeaders: true,
    })
    return topic
  }

  const restart = async (): Promise<void> => {
    if (!devstack || !start) throw new Error('restart() needs the devstack broker; skip with devstackOnly()')
    const port = Number(new URL(`kafka://${devstack.brokers[0]}`).port)
    const old = devstack
    devstack = undefined
    await old.close()
    devstack = await start(port)
  }

  return {
    brokers,
    get devstack() {
      return devstack
    },
    dataDir,
    kafka,
    admin,
    producer,
    consumer,
    collect,
    uniqueName,
    createTopic,
    defer,
    restart,
  }
}

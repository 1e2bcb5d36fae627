// Protocol robustness, checked with raw sockets the way Apache Kafka behaves (RequestContext / SocketServer):
// - ApiVersions with a version the broker does not support gets a v0 response with UNSUPPORTED_VERSION (35), and
//   the connection stays usable (that is how clients negotiate down);
// - any other request the broker cannot parse (unknown API key, unsupported version, garbage, a negative or huge
//   size) closes that connection without a response;
// - a half-sent frame followed by EOF closes that connection;
// and none of this disturbs other clients.
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { kafkaCluster } from '../../support/kafka-cluster.ts'
import type { KafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

const API_VERSIONS = 18
const METADATA = 3
const UNSUPPORTED_VERSION = 35

/** Request header v1 (int16 api_key, int16 api_version, int32 correlation_id, nullable string client_id) + body. */
function request(apiKey: number, apiVersion: number, correlationId: number, body = Buffer.alloc(0)): Buffer {
  const clientId = Buffer.from('sluice-robustness')
  const header = Buffer.alloc(10 + clientId.length)
  header.writeInt16BE(apiKey, 0)
  header.writeInt16BE(apiVersion, 2)
  header.writeInt32BE(correlationId, 4)
  header.writeInt16BE(clientId.length, 8)
  clientId.copy(header, 10)
  const size = Buffer.alloc(4)
  size.writeInt32BE(header.length + body.length)
  return Buffer.concat([size, header, body])
}

type Outcome = { kind: 'response'; correlationId: number; body: Buffer } | { kind: 'closed' }

/** A raw connection that yields whole response frames, or `closed` once the broker closes the connection. */
class RawConnection {
  readonly #socket: net.Socket
  #buffered = Buffer.alloc(0)
  #closed = false
  readonly #frames: Buffer[] = []

  private constructor(socket: net.Socket) {
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#buffered = Buffer.concat([this.#buffered, chunk])
      while (this.#buffered.length >= 4 && this.#buffered.length >= 4 + this.#buffered.readInt32BE(0)) {
        const size = this.#buffered.readInt32BE(0)
        this.#frames.push(this.#buffered.subarray(4, 4 + size))
        this.#buffered = this.#buffered.subarray(4 + size)
      }
    })
    socket.on('close', () => {
      this.#closed = true
    })
    socket.on('error', () => undefined) // a reset by the broker is one way of closing
  }

  static async open(cluster: KafkaCluster): Promise<RawConnection> {
    const [host, port] = cluster.brokers[0]!.split(':') as [string, string]
    const socket = net.connect({ host, port: Number(port) })
    cluster.defer(() => socket.destroy())
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    return new RawConnection(socket)
  }

  write(bytes: Buffer): void {
    this.#socket.write(bytes)
  }

  end(bytes?: Buffer): void {
    if (bytes) this.#socket.end(bytes)
    else this.#socket.end()
  }

  /** The next response frame, or `closed`; fails if neither happens before the deadline. */
  async next(what: string): Promise<Outcome> {
    return waitFor(
      (): Outcome | undefined => {
        const frame = this.#frames.shift()
        if (frame) return { kind: 'response', correlationId: frame.readInt32BE(0), body: frame.subarray(4) }
        return this.#closed ? { kind: 'closed' } : undefined
      },
      { timeoutMs: 5_000, message: what },
    )
  }
}

/** A kafkajs producer and admin, connected before the abuse, must keep working after it. */
async function bystander(cluster: KafkaCluster): Promise<() => Promise<void>> {
  const topic = await cluster.createTopic({ partitions: 1 })
  const producer = await cluster.producer()
  const admin = await cluster.admin()
  await producer.send({ topic, messages: [{ value: 'before' }] })
  return async () => {
    await producer.send({ topic, messages: [{ value: 'after' }] })
    const offsets = await admin.fetchTopicOffsets(topic)
    assert.equal(offsets[0]!.high, '2', 'another client kept producing')
  }
}

test('ApiVersions with an unsupported version answers UNSUPPORTED_VERSION and keeps the connection', async (t) => {
  const cluster = await kafkaCluster(t)
  const conn = await RawConnection.open(cluster)

  conn.write(request(API_VERSIONS, 127, 7))
  const unsupported = await conn.next('a response to ApiVersions v127')
  assert.equal(unsupported.kind, 'response', 'answered, not closed')
  if (unsupported.kind !== 'response') return
  assert.equal(unsupported.correlationId, 7)
  assert.equal(unsupported.body.readInt16BE(0), UNSUPPORTED_VERSION, 'v0 response body starts with error_code 35')

  // Negotiating down on the same connection works: ApiVersions v0 lists Produce (0) and Fetch (1).
  conn.write(request(API_VERSIONS, 0, 8))
  const v0 = await conn.next('a response to ApiVersions v0')
  assert.equal(v0.kind, 'response')
  if (v0.kind !== 'response') return
  assert.equal(v0.correlationId, 8)
  assert.equal(v0.body.readInt16BE(0), 0, 'no error')
  const count = v0.body.readInt32BE(2)
  const keys = new Map<number, [number, number]>()
  for (let i = 0; i < count; i++) {
    const at = 6 + i * 6
    keys.set(v0.body.readInt16BE(at), [v0.body.readInt16BE(at + 2), v0.body.readInt16BE(at + 4)])
  }
  assert.ok(keys.has(0) && keys.has(1) && keys.has(API_VERSIONS), `advertises Produce, Fetch, ApiVersions: ${[...keys.keys()]}`)
  const [min, max] = keys.get(API_VERSIONS)!
  assert.ok(min === 0 && max >= 2, `ApiVersions ${min}..${max} covers what kafkajs sends (v2)`)
})

test('requests the broker cannot parse close that connection only', async (t) => {
  const cluster = await kafkaCluster(t)
  const stillWorks = await bystander(cluster)

  const cases: Array<{ what: string; bytes: Buffer }> = [
    { what: 'Metadata v99 (unsupported version)', bytes: request(METADATA, 99, 1) },
    { what: 'unknown API key 9999', bytes: request(9999, 0, 2) },
    { what: 'api key -1 (garbage header)', bytes: Buffer.concat([Buffer.from([0, 0, 0, 8]), Buffer.alloc(8, 0xff)]) },
    { what: 'a negative frame size', bytes: Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]) },
    // Far above socket.request.max.bytes (100 MiB by default): refused without waiting for the bytes.
    { what: 'a 2 GiB frame size', bytes: Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 18, 0, 0]) },
  ]
  for (const { what, bytes } of cases) {
    const conn = await RawConnection.open(cluster)
    conn.write(bytes)
    const outcome = await conn.next(`the broker to close the connection after ${what}`)
    assert.equal(outcome.kind, 'closed', `${what}: closed without a response`)
  }
  await stillWorks()
})

test('a truncated frame followed by EOF closes that connection only', async (t) => {
  const cluster = await kafkaCluster(t)
  const stillWorks = await bystander(cluster)
  const conn = await RawConnection.open(cluster)
  const whole = request(API_VERSIONS, 0, 3)
  conn.end(whole.subarray(0, whole.length - 3))
  const outcome = await conn.next('the broker to close a connection that ended mid-frame')
  assert.equal(outcome.kind, 'closed')
  await stillWorks()
})

test('a client that vanishes mid-request does not disturb others', async (t) => {
  const cluster = await kafkaCluster(t)
  const stillWorks = await bystander(cluster)
  // Many connections each sending half a frame and then resetting: the broker must drop each cleanly.
  for (let i = 0; i < 20; i++) {
    const conn = await RawConnection.open(cluster)
    const whole = request(METADATA, 1, i, Buffer.from([0xff, 0xff, 0xff, 0xff]))
    conn.write(whole.subarray(0, 9))
    conn.end()
  }
  await stillWorks()
})

// Consumer groups as kafkajs users rely on them: every partition owned by exactly one live member, ownership moving
// when members join, leave or go silent and when partitions are added, and custom assigners seeing member user data.
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { AssignerProtocol } from 'kafkajs'
import type { Consumer, ConsumerConfig, ISocketFactory, PartitionAssigner } from 'kafkajs'
import { kafkaCluster } from '../../support/kafka-cluster.ts'
import type { KafkaCluster } from '../../support/kafka-cluster.ts'
import { waitFor } from '../../support/wait-for.ts'

// Real Kafka refuses sessions shorter than group.min.session.timeout.ms (default 6 s).
const SESSION_TIMEOUT = 6_000
// kafkajs heartbeats between fetches only, so a short long-poll (maxWaitTimeInMs) is what lets members notice a
// rebalance quickly; the default 5 s would make every rebalance in these tests take seconds.
const GROUP_TIMEOUTS = { sessionTimeout: SESSION_TIMEOUT, rebalanceTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 100 }

interface Member {
  name: string
  consumer: Consumer
  /** Partitions of the topic from the member's latest join. */
  assignment: number[]
  joins: number
  active: boolean
}

interface Consumed {
  member: string
  partition: number
  value: string
}

async function startMember(
  cluster: KafkaCluster,
  options: {
    name: string
    groupId: string
    topic: string
    consumed: Consumed[]
    config?: Partial<ConsumerConfig>
    socketFactory?: ISocketFactory
  },
): Promise<Member> {
  // A member on a cuttable network gets short client timeouts, so that once healed it gives up its stale requests
  // quickly and the test's cleanup does not wait out kafkajs's 30 s request timeout.
  const kafka = cluster.kafka(
    options.socketFactory ? { socketFactory: options.socketFactory, requestTimeout: 2_000, connectionTimeout: 500 } : {},
  )
  const consumer = kafka.consumer({ groupId: options.groupId, ...GROUP_TIMEOUTS, ...options.config })
  const member: Member = { name: options.name, consumer, assignment: [], joins: 0, active: true }
  cluster.defer(() => consumer.disconnect())
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    member.assignment = [...(event.payload.memberAssignment[options.topic] ?? [])].sort((a, b) => a - b)
    member.joins++
  })
  await consumer.connect()
  await consumer.subscribe({ topic: options.topic, fromBeginning: true })
  await consumer.run({
    autoCommitThreshold: 1, // commit after every batch, so a rebalance does not replay what was already seen
    eachMessage: async ({ partition, message }) => {
      options.consumed.push({ member: options.name, partition, value: message.value!.toString() })
    },
  })
  return member
}

/** Waits until the active members, each having joined since `since`, own every partition exactly once. */
async function waitForBalancedGroup(
  members: Member[],
  partitions: number,
  since: Map<Member, number>,
  what: string,
): Promise<void> {
  const all = Array.from({ length: partitions }, (_, p) => p)
  await waitFor(
    () => {
      const active = members.filter((m) => m.active)
      if (!active.every((m) => m.joins > (since.get(m) ?? 0))) return false
      const owned = active.flatMap((m) => m.assignment).sort((a, b) => a - b)
      return owned.length === all.length && owned.every((p, i) => p === all[i])
    },
    {
      timeoutMs: 30_000,
      message: what,
      describe: () => members.map((m) => `${m.name}${m.active ? '' : '(gone)'}: joins ${m.joins} [${m.assignment}]`).join('; '),
    },
  )
}

const joinsNow = (members: Member[]): Map<Member, number> => new Map(members.map((m) => [m, m.joins]))

/** Produces `count` records spread over all partitions, waits until the group consumed them and committed. */
async function produceAndConsume(
  cluster: KafkaCluster,
  options: { topic: string; groupId: string; partitions: number; label: string; count: number; consumed: Consumed[] },
  producedSoFar: { n: number },
): Promise<string[]> {
  const producer = await cluster.producer()
  const values = Array.from({ length: options.count }, (_, i) => `${options.label}-${i}`)
  await producer.send({
    topic: options.topic,
    messages: values.map((value, i) => ({ value, partition: i % options.partitions })),
  })
  producedSoFar.n += values.length
  await waitFor(() => values.every((v) => options.consumed.some((c) => c.value === v)), {
    timeoutMs: 20_000,
    message: `the group to consume ${options.label}`,
    describe: () => `${values.filter((v) => options.consumed.some((c) => c.value === v)).length}/${values.length}`,
  })
  const admin = await cluster.admin()
  await waitFor(
    async () => {
      const [offsets] = await admin.fetchOffsets({ groupId: options.groupId, topics: [options.topic] })
      return offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0) === producedSoFar.n
    },
    { timeoutMs: 20_000, message: `the group to commit ${producedSoFar.n} offsets` },
  )
  return values
}

function assertOwnersConsumedOnce(consumed: Consumed[], values: string[], members: Member[]): void {
  for (const v of values) {
    const hits = consumed.filter((c) => c.value === v)
    assert.equal(hits.length, 1, `${v} consumed exactly once (got ${hits.length})`)
    const owner = members.find((m) => m.active && m.assignment.includes(hits[0]!.partition))
    assert.equal(hits[0]!.member, owner?.name, `${v} (partition ${hits[0]!.partition}) consumed by its owner`)
  }
}

test('three members share six partitions, each partition owned exactly once', async (t) => {
  const cluster = await kafkaCluster(t)
  const partitions = 6
  const topic = await cluster.createTopic({ partitions })
  const groupId = cluster.uniqueName('group')
  const consumed: Consumed[] = []
  const members = await Promise.all(
    ['a', 'b', 'c'].map((name) => startMember(cluster, { name, groupId, topic, consumed })),
  )
  await waitForBalancedGroup(members, partitions, new Map(), 'three members to share six partitions')
  for (const m of members) assert.ok(m.assignment.length > 0, `${m.name} owns a partition`)

  const values = await produceAndConsume(cluster, { topic, groupId, partitions, label: 'r', count: 60, consumed }, { n: 0 })
  assertOwnersConsumedOnce(consumed, values, members)

  const admin = await cluster.admin()
  const { groups } = await admin.describeGroups([groupId])
  assert.equal(groups[0]!.state, 'Stable')
  assert.equal(groups[0]!.members.length, 3)
})

test('the group rebalances when a member joins and when one leaves', async (t) => {
  const cluster = await kafkaCluster(t)
  const partitions = 4
  const topic = await cluster.createTopic({ partitions })
  const groupId = cluster.uniqueName('group')
  const consumed: Consumed[] = []
  const produced = { n: 0 }
  const opts = { topic, groupId, partitions, consumed, count: 20 }

  const members = [
    await startMember(cluster, { name: 'a', groupId, topic, consumed }),
    await startMember(cluster, { name: 'b', groupId, topic, consumed }),
  ]
  await waitForBalancedGroup(members, partitions, new Map(), 'two members to share the partitions')
  const first = await produceAndConsume(cluster, { ...opts, label: 'first' }, produced)
  assertOwnersConsumedOnce(consumed, first, members)

  let since = joinsNow(members)
  members.push(await startMember(cluster, { name: 'c', groupId, topic, consumed }))
  await waitForBalancedGroup(members, partitions, since, 'the group to take in member c')
  for (const m of members) assert.ok(m.assignment.length > 0, `${m.name} owns a partition after c joined`)
  const second = await produceAndConsume(cluster, { ...opts, label: 'second' }, produced)
  assertOwnersConsumedOnce(consumed, second, members)

  since = joinsNow(members)
  const leaving = members[1]!
  await leaving.consumer.disconnect()
  leaving.active = false
  await waitForBalancedGroup(members, partitions, since, 'the group to hand b’s partitions to a and c')
  const third = await produceAndConsume(cluster, { ...opts, label: 'third' }, produced)
  assertOwnersConsumedOnce(consumed, third, members)
  assert.ok(!third.some((v) => consumed.find((c) => c.value === v)!.member === 'b'), 'nothing consumed by b after it left')
})

/**
 * A socket factory whose connections can be cut like a network partition: nothing more is sent or read, and the
 * peer sees no close. Works the same against any broker, so it needs no fault injection.
 */
function partitionableNetwork(): { socketFactory: ISocketFactory; cut(): void; heal(): void } {
  const sockets = new Set<net.Socket>()
  let isCut = false
  const blackhole = (socket: net.Socket): void => {
    socket.pause()
    socket.write = (() => true) as typeof socket.write
  }
  return {
    socketFactory: ({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, isCut ? () => undefined : onConnect)
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      if (isCut) blackhole(socket)
      return socket
    },
    cut() {
      isCut = true
      for (const socket of sockets) blackhole(socket)
    },
    heal() {
      isCut = false
      for (const socket of sockets) socket.destroy()
    },
  }
}

test('a member that stops heartbeating is evicted after its session timeout and its partitions move', async (t) => {
  const cluster = await kafkaCluster(t)
  const partitions = 4
  const topic = await cluster.createTopic({ partitions })
  const groupId = cluster.uniqueName('group')
  const consumed: Consumed[] = []
  const produced = { n: 0 }
  const network = partitionableNetwork()

  const members = [
    await startMember(cluster, { name: 'a', groupId, topic, consumed }),
    await startMember(cluster, { name: 'b', groupId, topic, consumed }),
    await startMember(cluster, { name: 'silent', groupId, topic, consumed, socketFactory: network.socketFactory }),
  ]
  // Registered after the members, so it runs before their disconnects: the silent one's sockets are dropped first.
  cluster.defer(() => network.heal())
  await waitForBalancedGroup(members, partitions, new Map(), 'three members to share the partitions')
  await produceAndConsume(cluster, { topic, groupId, partitions, consumed, count: 20, label: 'before' }, produced)

  const since = joinsNow(members)
  const cutAt = Date.now()
  network.cut()
  members[2]!.active = false
  await waitForBalancedGroup(members, partitions, since, 'a and b to take over the silent member’s partitions')
  const elapsed = Date.now() - cutAt
  t.diagnostic(`silent member evicted and partitions moved ${elapsed} ms after its network was cut`)
  assert.ok(elapsed >= SESSION_TIMEOUT - 1_000, `evicted after ${elapsed} ms, before the ${SESSION_TIMEOUT} ms session timeout`)

  const after = await produceAndConsume(cluster, { topic, groupId, partitions, consumed, count: 20, label: 'after' }, produced)
  assertOwnersConsumedOnce(consumed, after, members)
})

test('partitions added with createPartitions are assigned and consumed after a metadata refresh', async (t) => {
  const cluster = await kafkaCluster(t)
  const topic = await cluster.createTopic({ partitions: 2 })
  const groupId = cluster.uniqueName('group')
  const consumed: Consumed[] = []
  const config = { metadataMaxAge: 300 }
  const members = [
    await startMember(cluster, { name: 'a', groupId, topic, consumed, config }),
    await startMember(cluster, { name: 'b', groupId, topic, consumed, config }),
  ]
  await waitForBalancedGroup(members, 2, new Map(), 'two members to share two partitions')

  const since = joinsNow(members)
  const admin = await cluster.admin()
  await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] })
  // A fresh producer: its first metadata request sees the four partitions.
  const values = await produceAndConsume(
    cluster,
    { topic, groupId, partitions: 4, consumed, count: 8, label: 'grown' },
    { n: 0 },
  )
  await waitForBalancedGroup(members, 4, since, 'the group to own all four partitions')
  assertOwnersConsumedOnce(consumed, values, members)
  assert.deepEqual([...new Set(consumed.map((c) => c.partition))].sort(), [0, 1, 2, 3])
})

test('a custom partition assigner gets every member’s user data and its assignment is what members receive', async (t) => {
  const cluster = await kafkaCluster(t)
  const partitions = 3
  const topic = await cluster.createTopic({ partitions })
  const groupId = cluster.uniqueName('group')
  const consumed: Consumed[] = []
  const assignCalls: Array<Array<{ memberId: string; userData: string; topics: string[] }>> = []

  // Members announce in user data how many partitions they want; the leader's assign() honours that.
  const greedyAssigner =
    (want: number): PartitionAssigner =>
    ({ cluster: kafkaCluster }) => ({
      name: 'SluiceTestAssigner',
      version: 1,
      protocol: ({ topics }) => ({
        name: 'SluiceTestAssigner',
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.from(`want:${want}`) }),
      }),
      assign: async ({ members, topics }) => {
        const seen = members.map((m) => {
          const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata)!
          return { memberId: m.memberId, userData: meta.userData.toString(), topics: meta.topics }
        })
        assignCalls.push(seen)
        const available = kafkaCluster.findTopicPartitionMetadata(topics[0]!).map((p) => p.partitionId).sort()
        return [...seen]
          .sort((x, y) => x.userData.localeCompare(y.userData))
          .map((m) => {
            const take = available.splice(0, Number(m.userData.split(':')[1]))
            return {
              memberId: m.memberId,
              memberAssignment: AssignerProtocol.MemberAssignment.encode({
                version: 1,
                assignment: take.length > 0 ? { [topic]: take } : {},
                userData: Buffer.from(`granted:${take.length}`),
              }),
            }
          })
      },
    })

  const groupProtocols: string[] = []
  const start = async (name: string, want: number): Promise<Member> => {
    const member = await startMember(cluster, {
      name,
      groupId,
      topic,
      consumed,
      config: { partitionAssigners: [greedyAssigner(want)] },
    })
    member.consumer.on(member.consumer.events.GROUP_JOIN, (e) => groupProtocols.push(e.payload.groupProtocol))
    return member
  }
  const members = [await start('modest', 0), await start('greedy', 3)]
  await waitFor(() => members.every((m) => m.joins > 0) && members[1]!.assignment.length === partitions, {
    timeoutMs: 30_000,
    message: 'the greedy member to own every partition',
    describe: () => members.map((m) => `${m.name}: joins ${m.joins} [${m.assignment}]`).join('; '),
  })

  const last = assignCalls.at(-1)!
  assert.deepEqual(last.map((m) => m.userData).sort(), ['want:0', 'want:3'], 'assign() saw both members’ user data')
  for (const m of last) assert.deepEqual(m.topics, [topic])
  assert.deepEqual(members[0]!.assignment, [])
  assert.deepEqual(members[1]!.assignment, [0, 1, 2])
  assert.ok(groupProtocols.length > 0 && groupProtocols.every((p) => p === 'SluiceTestAssigner'))

  const values = await produceAndConsume(cluster, { topic, groupId, partitions, consumed, count: 9, label: 'g' }, { n: 0 })
  assertOwnersConsumedOnce(consumed, values, members)
})

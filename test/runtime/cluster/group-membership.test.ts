/**
 * GroupMembership against a broker (the devstack's, or KAFKA_BROKERS): joins, leaders, rejoins, graceful and
 * abrupt departures, fencing (a stopped process, a network partition), unreachable brokers, coordinator errors,
 * failing callbacks, errors retrying cannot fix.
 *
 * Every wait is for a state (the members agree on a generation the leader assigned), never for a duration. Where a
 * test must tell the fast path from the slow one (LeaveGroup or a session timeout, an aborted JoinGroup or its
 * answer, the session deadline or a 120 s request timeout), the slow one takes at least twice the wait's deadline.
 * Members' kafkajs clients are built here rather than with `cluster.kafka()`, whose sockets the cluster helper
 * closes itself: this way a socket the product code leaves open fails the devstack's connection check and the leak
 * guard.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { pino } from 'pino';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import {
  GroupMembership,
  GroupMembershipErrorCode,
  groupMembershipTestHooks,
  type MembershipView,
} from '../../../runtime/cluster/group/group-membership.ts';
import { devstackOnly, kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { openHandles } from '../../support/open-handles.ts';
import { waitFor } from '../../support/wait-for.ts';

interface LogLine {
  readonly level: number;
  readonly msg: string;
}
const WARN = 40;
const ERROR = 50;

/** What the leaders of one group assigned, by generation: who was a member with what metadata, who got which bytes. */
interface GroupRecord {
  readonly id: string;
  readonly generations: Map<number, { members: Map<string, string>; assignment: Map<string, string> }>;
}

interface Member {
  readonly name: string;
  readonly membership: GroupMembership;
  /** `metadata` is sent at the next join. */
  readonly state: { metadata: string };
  readonly events: Array<{ kind: 'assigned'; view: MembershipView } | { kind: 'lost'; reason: Error; heartbeatsSent: number }>;
  readonly started: Promise<void>;
}

interface Timing {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  rebalanceTimeoutMs: number;
}
/** Long sessions: nothing in these tests may wait for one to expire. */
const LONG_SESSION: Timing = { sessionTimeoutMs: 30_000, heartbeatIntervalMs: 200, rebalanceTimeoutMs: 20_000 };
/** The broker's minimum (group.min.session.timeout.ms 6000, Kafka's default and the devstack's). */
const SHORT_SESSION: Timing = { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 200, rebalanceTimeoutMs: 10_000 };

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString();

function newGroup(cluster: KafkaCluster): GroupRecord {
  return { id: cluster.uniqueName('sluice.test'), generations: new Map() };
}

function join(cluster: KafkaCluster, group: GroupRecord, name: string, timing: Timing, client: Partial<KafkaConfig> = {}, delivered?: () => Promise<void> | undefined): Member {
  const kafka = new Kafka({ clientId: `sluice-test-${name}`, logLevel: logLevel.NOTHING, ...client, brokers: cluster.brokers });
  const events: Member['events'] = [];
  const state = { metadata: `${name}-v1` };
  const membership: GroupMembership = new GroupMembership({
    kafka,
    groupId: group.id,
    ...timing,
    metadata: () => Buffer.from(state.metadata),
    assign: async (members, generation) => {
      const assignment = new Map(members.map((m) => [m.memberId, `${generation}|${m.memberId}|${text(m.metadata)}`]));
      group.generations.set(generation, { members: new Map(members.map((m) => [m.memberId, text(m.metadata)])), assignment });
      return new Map([...assignment].map(([id, s]) => [id, Buffer.from(s)]));
    },
    onAssigned: (view) => {
      events.push({ kind: 'assigned', view });
      return delivered?.();
    },
    onLost: (reason) => void events.push({ kind: 'lost', reason, heartbeatsSent: groupMembershipTestHooks(membership).stats().heartbeatsSent }),
    logger: silentLogger(),
  });
  cluster.defer(() => membership.leave());
  return { name, membership, events, state, started: membership.start() };
}

/** The generation all `members` hold, provided the leader's assign of it saw exactly them; undefined otherwise. */
function agreed(group: GroupRecord, members: readonly Member[]): number | undefined {
  const views = members.map((m) => m.membership.current());
  const first = views[0];
  if (first === undefined || views.some((v) => v === undefined || v.generation !== first.generation)) return undefined;
  const record = group.generations.get(first.generation);
  const ids = new Set(views.map((v) => (v as MembershipView).memberId));
  if (record === undefined || record.members.size !== ids.size || [...ids].some((id) => !record.members.has(id))) return undefined;
  return first.generation;
}

async function settle(group: GroupRecord, members: readonly Member[], message: string, timeoutMs = 15_000): Promise<number> {
  return waitFor(() => agreed(group, members), {
    timeoutMs,
    message,
    describe: () => ({ views: members.map((m) => [m.name, m.membership.current()?.generation, m.membership.current()?.memberId]), generations: [...group.generations.keys()] }),
  });
}

/** Every member got exactly the bytes the leader made for it in `generation`, and agrees on the one leader. */
function assertAssignedBy(group: GroupRecord, members: readonly Member[], generation: number): void {
  const record = group.generations.get(generation);
  assert.ok(record, `generation ${generation} was assigned`);
  const views = members.map((m) => m.membership.current() as MembershipView);
  const leaders = views.filter((v) => v.isLeader);
  assert.equal(leaders.length, 1, 'exactly one leader');
  for (const v of views) {
    assert.equal(v.generation, generation);
    assert.equal(v.leaderId, (leaders[0] as MembershipView).memberId);
    assert.equal(text(v.assignment), record.assignment.get(v.memberId), `the assignment of ${v.memberId}`);
  }
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// First, while no broker of another test has sockets still closing: it checks that nothing at all is left open.
test('unreachable brokers: start() keeps retrying with a warning that names them; leave() stops it and leaves nothing open', async () => {
  const port = await closedPort();
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const membership = new GroupMembership({
    kafka: new Kafka({ clientId: 'sluice-test-unreachable', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING }),
    groupId: 'sluice.unreachable',
    ...SHORT_SESSION,
    metadata: () => new Uint8Array(0),
    assign: async () => new Map(),
    onAssigned: () => assert.fail('no assignment without a broker'),
    logger,
  });
  const hooks = groupMembershipTestHooks(membership);
  let outcome: unknown = 'pending';
  const started = membership.start();
  started.then(
    () => (outcome = 'resolved'),
    (err: unknown) => (outcome = err),
  );

  const warning = await waitFor(() => lines.find((l) => l.level === WARN && l.msg.includes(`127.0.0.1:${port}`)), { message: 'a warning naming the broker' });
  assert.match(warning.msg, /Check that the brokers are running and reachable/);
  await waitFor(() => hooks.stats().coordinatorLookups >= 3, { message: 'more attempts after the warning' });
  assert.equal(outcome, 'pending', 'start() neither resolved nor gave up');

  await membership.leave();
  await assert.rejects(started, (err: unknown) => isSluiceError(err, GroupMembershipErrorCode.left));
  await membership.leave();
  assert.equal(membership.current(), undefined);
  // No retry timer, connection timer or socket survives leave().
  await waitFor(() => openHandles().length === 0, { timeoutMs: 3_000, message: 'no open handles after leave()', describe: () => openHandles().map((h) => h.description) });
});

test('three members: one leader, one generation, each gets the bytes the leader assigned it; the group has protocol type sluice', async (t) => {
  const cluster = await kafkaCluster(t);
  const group = newGroup(cluster);
  const members = ['a', 'b', 'c'].map((name) => join(cluster, group, name, LONG_SESSION));
  await Promise.all(members.map((m) => m.started));
  const generation = await settle(group, members, 'three members in one generation');
  assertAssignedBy(group, members, generation);
  const record = group.generations.get(generation);
  for (const m of members) assert.equal(record?.members.get(m.membership.current()?.memberId ?? ''), `${m.name}-v1`, 'the leader saw each member\'s metadata');
  for (const m of members) assert.deepEqual(m.events.filter((e) => e.kind === 'lost'), []);

  const admin = await cluster.admin();
  const described = await waitFor(
    async () => {
      const [g] = (await admin.describeGroups([group.id])).groups;
      return g?.state === 'Stable' && g.members.length === 3 ? g : undefined;
    },
    { message: 'the group Stable with three members' },
  );
  assert.equal(described.protocolType, 'sluice');
  assert.equal(described.protocol, 'sluice-v1');
  for (const m of described.members) assert.equal(m.memberAssignment.toString(), record?.assignment.get(m.memberId), 'the coordinator holds the leader\'s assignment');
});

test('rejoin() with changed metadata: a new generation whose assign sees it (from the leader, then from a follower)', async (t) => {
  const cluster = await kafkaCluster(t);
  const group = newGroup(cluster);
  const members = ['a', 'b'].map((name) => join(cluster, group, name, LONG_SESSION));
  const first = await settle(group, members, 'two members in one generation');
  const leader = members.find((m) => m.membership.current()?.isLeader) as Member;
  const follower = members.find((m) => m !== leader) as Member;
  const ids = members.map((m) => m.membership.current()?.memberId);

  leader.state.metadata = `${leader.name}-v2`;
  leader.membership.rejoin();
  const second = await waitFor(() => {
    const g = agreed(group, members);
    return g !== undefined && g > first && group.generations.get(g)?.members.get(leader.membership.current()?.memberId ?? '') === `${leader.name}-v2` ? g : undefined;
  }, { message: 'a generation with the leader\'s new metadata' });
  assertAssignedBy(group, members, second);
  assert.equal(group.generations.get(second)?.members.get(follower.membership.current()?.memberId ?? ''), `${follower.name}-v1`);

  follower.state.metadata = `${follower.name}-v2`;
  follower.membership.rejoin();
  const third = await waitFor(() => {
    const g = agreed(group, members);
    return g !== undefined && g > second && group.generations.get(g)?.members.get(follower.membership.current()?.memberId ?? '') === `${follower.name}-v2` ? g : undefined;
  }, { message: 'a generation with the follower\'s new metadata' });
  assertAssignedBy(group, members, third);
  assert.deepEqual(members.map((m) => m.membership.current()?.memberId), ids, 'rebalances keep the member ids');
  for (const m of members) assert.deepEqual(m.events.filter((e) => e.kind === 'lost'), []);
});

test('leave(): the others rebalance without the member at once (no session timeout), also when the leader leaves', async (t) => {
  const cluster = await kafkaCluster(t);
  const group = newGroup(cluster);
  const members = ['a', 'b', 'c'].map((name) => join(cluster, group, name, LONG_SESSION));
  const first = await settle(group, members, 'three members in one generation');

  const follower = members.find((m) => !(m.membership.current()?.isLeader ?? true)) as Member;
  const rest = members.filter((m) => m !== follower);
  await follower.membership.leave();
  await follower.membership.leave();
  assert.equal(follower.membership.current(), undefined);
  // 15 s against a 30 s session: only LeaveGroup can make this.
  const second = await settle(group, rest, 'the two others in a generation without the member that left');
  assert.ok(second > first);
  assertAssignedBy(group, rest, second);

  const leader = rest.find((m) => m.membership.current()?.isLeader) as Member;
  const last = rest.find((m) => m !== leader) as Member;
  await leader.membership.leave();
  const third = await settle(group, [last], 'the last member alone, as leader');
  assert.ok(third > second);
  assertAssignedBy(group, [last], third);
  assert.equal(last.membership.current()?.isLeader, true);
  for (const m of members) assert.deepEqual(m.events.filter((e) => e.kind === 'lost'), []);
});

test('leave() while its JoinGroup waits for a rebalance: returns without waiting it out', async (t) => {
  const cluster = await kafkaCluster(t);
  const group = newGroup(cluster);
  // kafkajs would wait up to the rebalance timeout + 5 s for this JoinGroup's answer.
  const timing = { ...LONG_SESSION, rebalanceTimeoutMs: 120_000 };
  const [a, b] = ['a', 'b'].map((name) => join(cluster, group, name, timing)) as [Member, Member];
  await settle(group, [a, b], 'two members in one generation');
  // a stops answering (well within its 30 s session), so the rebalance b starts waits for a to rejoin.
  const thaw = groupMembershipTestHooks(a.membership).freeze();
  b.state.metadata = 'b-v2';
  b.membership.rejoin();
  const admin = await cluster.admin();
  await waitFor(async () => (await admin.describeGroups([group.id])).groups[0]?.state === 'PreparingRebalance', { message: 'b\'s JoinGroup holding the group in PreparingRebalance' });

  let left = false;
  void b.membership.leave().then(() => (left = true));
  await waitFor(() => left, { message: 'leave() not waiting for the JoinGroup\'s answer' });
  thaw();
  const generation = await settle(group, [a], 'a alone: b left the rebalance');
  assertAssignedBy(group, [a], generation);
});

test('a member that vanishes without LeaveGroup: after its session timeout the others rebalance without it', async (t) => {
  const cluster = await kafkaCluster(t);
  const group = newGroup(cluster);
  const members = ['a', 'b', 'c'].map((name) => join(cluster, group, name, SHORT_SESSION));
  await settle(group, members, 'three members in one generation');
  const [a, b, c] = members as [Member, Member, Member];
  const ids = [a, b].map((m) => m.membership.current()?.memberId);

  await groupMembershipTestHooks(c.membership).vanish();
  const after = await settle(group, [a, b], 'a generation of the two survivors', 30_000);
  assertAssignedBy(group, [a, b], after);
  assert.deepEqual([a, b].map((m) => m.membership.current()?.memberId), ids, 'the survivors rejoined with their member ids');
  for (const m of [a, b]) assert.deepEqual(m.events.filter((e) => e.kind === 'lost'), [], 'a rebalance is no loss');
});

test('fencing: a member stopped past its session timeout calls onLost first thing on waking, then joins as a new member', async (t) => {
  const cluster = await kafkaCluster(t);
  const group = newGroup(cluster);
  const members = ['a', 'b', 'c'].map((name) => join(cluster, group, name, SHORT_SESSION));
  await settle(group, members, 'three members in one generation');
  const [a, b, c] = members as [Member, Member, Member];
  const cHooks = groupMembershipTestHooks(c.membership);
  const oldId = c.membership.current()?.memberId;

  assert.equal(c.membership.holdsSession(), true, 'a member in step with the coordinator holds its session');
  const thaw = cHooks.freeze();
  const frozenAt = performance.now();
  const heartbeatsWhenFrozen = cHooks.stats().heartbeatsSent;
  // The coordinator dropped c: the others rebalanced without it.
  await settle(group, [a, b], 'the others in a generation without the stopped member', 30_000);
  // By c's own clock too (the broker shares this event loop, and its timer may fire a little early under load).
  await waitFor(() => performance.now() - frozenAt > SHORT_SESSION.sessionTimeoutMs, { message: 'a session timeout since the freeze' });
  assert.deepEqual(c.events.filter((e) => e.kind === 'lost'), [], 'nothing runs while stopped');
  assert.equal(c.membership.holdsSession(), false, 'past its session by its own clock, before its heartbeat loop has run');
  thaw();

  const lost = await waitFor(() => c.events.find((e) => e.kind === 'lost'), { message: 'onLost on the stopped member' });
  assert.ok(isSluiceError(lost.reason, GroupMembershipErrorCode.sessionExpired), `fenced by its own clock, not by the coordinator's answer: ${lost.reason.message}`);
  assert.equal(lost.heartbeatsSent, heartbeatsWhenFrozen, 'onLost came before any heartbeat');
  const rejoined = await settle(group, members, 'all three again, the stopped one as a new member');
  assertAssignedBy(group, members, rejoined);
  assert.notEqual(c.membership.current()?.memberId, oldId);
  assert.equal(c.membership.holdsSession(), true, 'a new session once joined again');
  const kinds = c.events.map((e) => e.kind);
  assert.equal(kinds.lastIndexOf('lost'), kinds.indexOf('lost'), 'one loss');
  assert.ok(kinds.indexOf('lost') < kinds.lastIndexOf('assigned'), 'assigned again after the loss');
  for (const m of [a, b]) assert.deepEqual(m.events.filter((e) => e.kind === 'lost'), []);
});

test('a JoinGroup waiting longer than the session for a slow member keeps the session held: no loss, same member id', async (t) => {
  const cluster = await kafkaCluster(t);
  const group = newGroup(cluster);
  // A rebalance timeout well past the session: the coordinator waits for the slow member rather than evicting it.
  const timing: Timing = { ...SHORT_SESSION, rebalanceTimeoutMs: 30_000 };
  let slow: { release: () => void } | undefined;
  let slowDelivery: Promise<void> | undefined;
  const a = join(cluster, group, 'a', timing);
  const b = join(cluster, group, 'b', timing, {}, () => slowDelivery);
  await settle(group, [a, b], 'two members in one generation');
  const aId = a.membership.current()?.memberId;

  // b's next assignment takes longer than a session to deliver, and b rejoins only after it.
  slowDelivery = new Promise<void>((resolve) => (slow = { release: resolve }));
  // Released on failure too: b's leave() waits for its delivery to return.
  cluster.defer(async () => slow?.release());
  const deliveredBefore = b.events.length;
  b.membership.rejoin();
  await waitFor(() => b.events.length > deliveredBefore, { message: "b's slow delivery began" });
  const generationOfSlowDelivery = b.membership.current()?.generation;
  a.membership.rejoin();
  const rejoinedAt = performance.now();
  await waitFor(() => performance.now() - rejoinedAt > timing.sessionTimeoutMs + 1_000, { timeoutMs: 30_000, message: 'more than a session since a sent its JoinGroup' });
  assert.equal(a.membership.current()?.generation, generationOfSlowDelivery, "a's JoinGroup still waits for b");
  assert.equal(a.membership.holdsSession(), true, 'the coordinator keeps a member whose JoinGroup waits');
  slowDelivery = undefined;
  slow!.release();

  const slowGeneration = generationOfSlowDelivery ?? Infinity;
  await waitFor(() => (agreed(group, [a, b]) ?? -1) > slowGeneration, { timeoutMs: 30_000, message: 'both in a new generation once b rejoined' });
  assert.equal(a.membership.current()?.memberId, aId, 'the same member: the coordinator never dropped it');
  assert.deepEqual(a.events.filter((e) => e.kind === 'lost'), []);
});

test('fencing when heartbeats go unanswered (a network partition): onLost after the session timeout, not the request timeout', async (t) => {
  const cluster = await kafkaCluster(t);
  const group = newGroup(cluster);
  // a's sockets, so the test can cut them off; its requests would wait 120 s for an answer.
  const sockets = new Set<net.Socket>();
  const socketFactory: KafkaConfig['socketFactory'] = ({ host, port, onConnect }) => {
    const socket = net.connect({ host, port }, onConnect);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    return socket;
  };
  const [a, b] = [join(cluster, group, 'a', SHORT_SESSION, { requestTimeout: 120_000, socketFactory }), join(cluster, group, 'b', SHORT_SESSION)];
  await settle(group, [a, b], 'two members in one generation');
  const oldId = a.membership.current()?.memberId;

  // The partition: what a sends is dropped, what the broker sends is never read; new connections work.
  for (const socket of sockets) {
    socket.write = () => true;
    socket.pause();
  }
  const lost = await waitFor(() => a.events.find((e) => e.kind === 'lost'), { timeoutMs: 30_000, message: 'onLost well before the 120 s request timeout' });
  assert.ok(isSluiceError(lost.reason, GroupMembershipErrorCode.sessionExpired), lost.reason.message);
  const rejoined = await settle(group, [a, b], 'a back as a new member', 30_000);
  assertAssignedBy(group, [a, b], rejoined);
  assert.notEqual(a.membership.current()?.memberId, oldId);
  assert.deepEqual(b.events.filter((e) => e.kind === 'lost'), []);
});

test('coordinator errors (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE): found again, same member and generation, no loss', { skip: devstackOnly('injects coordinator errors') }, async (t) => {
  const cluster = await kafkaCluster(t);
  const faults = cluster.devstack?.faults;
  assert.ok(faults);
  const NOT_COORDINATOR = 16;
  const COORDINATOR_NOT_AVAILABLE = 15;
  faults.failNext('JoinGroup', NOT_COORDINATOR);
  const group = newGroup(cluster);
  const member = join(cluster, group, 'a', LONG_SESSION);
  await member.started;
  const view = member.membership.current();
  const hooks = groupMembershipTestHooks(member.membership);
  assert.ok(hooks.stats().coordinatorLookups >= 2, 'looked up again after NOT_COORDINATOR on JoinGroup');

  const lookups = hooks.stats().coordinatorLookups;
  faults.failNext('FindCoordinator', COORDINATOR_NOT_AVAILABLE);
  faults.failNext('Heartbeat', NOT_COORDINATOR, 2);
  await waitFor(() => hooks.stats().coordinatorLookups >= lookups + 2, { message: 'the coordinator looked up again (once in vain)' });
  const ok = hooks.stats().heartbeatsOk;
  await waitFor(() => hooks.stats().heartbeatsOk > ok, { message: 'heartbeats to the coordinator found again' });
  assert.deepEqual(member.membership.current(), view, 'still the same member in the same generation');
  assert.deepEqual(member.events.filter((e) => e.kind === 'lost'), []);
});

test('a throwing assign or onAssigned is logged, and the member rejoins after a backoff', async (t) => {
  const cluster = await kafkaCluster(t);
  const lines: LogLine[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const failures = { assign: 1, onAssigned: 1 };
  const seen: number[] = [];
  const membership = new GroupMembership({
    kafka: new Kafka({ clientId: 'sluice-test-callbacks', brokers: cluster.brokers, logLevel: logLevel.NOTHING }),
    groupId: cluster.uniqueName('sluice.test'),
    ...LONG_SESSION,
    metadata: () => new Uint8Array(0),
    assign: async (members) => {
      if (failures.assign-- > 0) throw new Error('assign broke');
      return new Map(members.map((m) => [m.memberId, Buffer.from('work')]));
    },
    onAssigned: async (view) => {
      if (failures.onAssigned-- > 0) throw new Error('onAssigned broke');
      seen.push(view.generation);
    },
    logger,
  });
  cluster.defer(() => membership.leave());
  await membership.start();
  assert.equal(seen.length, 1);
  assert.equal(text(membership.current()?.assignment ?? new Uint8Array(0)), 'work');
  const errors = lines.filter((l) => l.level === ERROR).map((l) => l.msg);
  assert.ok(errors.some((m) => /assign threw: assign broke/.test(m)), errors.join('\n'));
  assert.ok(errors.some((m) => /onAssigned failed/.test(m)), errors.join('\n'));
});

test('what retrying cannot fix rejects start(): a session timeout the broker refuses, a group id a consumer group has', async (t) => {
  const cluster = await kafkaCluster(t);
  const membership = (groupId: string, sessionTimeoutMs: number): GroupMembership => {
    const m = new GroupMembership({
      kafka: new Kafka({ clientId: 'sluice-test-fatal', brokers: cluster.brokers, logLevel: logLevel.NOTHING }),
      groupId,
      sessionTimeoutMs,
      rebalanceTimeoutMs: 10_000,
      metadata: () => new Uint8Array(0),
      assign: async () => new Map(),
      onAssigned: () => assert.fail('no assignment'),
      logger: silentLogger(),
    });
    cluster.defer(() => m.leave());
    return m;
  };
  const fatal = (pattern: RegExp) => (err: unknown) =>
    isSluiceError(err, GroupMembershipErrorCode.fatal) && err.retriable === false && pattern.test(err.message);

  // Below group.min.session.timeout.ms (6000 unless a broker lowers it).
  await assert.rejects(membership(cluster.uniqueName('sluice.test'), 1_000).start(), fatal(/INVALID_SESSION_TIMEOUT.*group\.min\.session\.timeout\.ms/));

  const groupId = cluster.uniqueName('sluice.test');
  const consumer = await cluster.consumer({ groupId });
  await consumer.subscribe({ topic: await cluster.createTopic() });
  await consumer.run({ eachMessage: async () => undefined });
  const admin = await cluster.admin();
  await waitFor(async () => (await admin.describeGroups([groupId])).groups[0]?.protocolType === 'consumer', { message: 'the consumer group formed' });
  await assert.rejects(membership(groupId, 6_000).start(), fatal(/INCONSISTENT_GROUP_PROTOCOL.*choose another cluster name/));
});

// Segment rolling as Kafka 2.1's Log.maybeRoll decides it: what the log cleaner may touch depends on it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LogSegments } from '../../../../devstack/kafka/log/log-segments.ts'

const policy = { segmentBytes: 100, segmentMs: 1_000 }

test('a batch that would take the active segment past segment.bytes starts a new one; a large first batch does not', () => {
  const segments = new LogSegments()
  assert.equal(segments.activeBaseOffset, Infinity)
  segments.append(0, 150, 10, 10, policy) // bigger than segment.bytes, but the segment is empty: it stays
  assert.deepEqual(segments.all().map((s) => [s.baseOffset, s.bytes]), [[0, 150]])
  segments.append(5, 40, 11, 11, policy)
  segments.append(9, 60, 12, 12, policy) // 40 + 60 = 100: fits exactly
  segments.append(12, 1, 13, 13, policy)
  assert.deepEqual(segments.all().map((s) => [s.baseOffset, s.bytes]), [[0, 150], [5, 100], [12, 1]])
  assert.equal(segments.activeBaseOffset, 12)
  assert.equal(segments.segmentOf(11)?.baseOffset, 5)
  assert.equal(segments.segmentOf(12)?.baseOffset, 12)
})

test('a batch stamped more than segment.ms after the first batch of the active segment starts a new one', () => {
  const segments = new LogSegments()
  segments.append(0, 10, 5_000, 1, policy)
  segments.append(1, 10, 6_000, 2, policy) // exactly segment.ms later: same segment
  segments.append(2, 10, 6_001, 3, policy)
  assert.deepEqual(segments.all().map((s) => [s.baseOffset, s.maxTimestamp, s.lastModified]), [[0, 6_000, 2], [2, 6_001, 3]])
})

test('emptied segments go; once all are gone, the next batch starts a new segment at its offset', () => {
  const segments = new LogSegments()
  for (const [base, ts] of [[0, 0], [1, 2_000], [2, 4_000]] as const) segments.append(base, 10, ts, ts, policy)
  segments.resize((s) => (s.baseOffset === 1 ? 0 : s.bytes))
  assert.deepEqual(segments.all().map((s) => s.baseOffset), [0, 2])
  segments.resize(() => 0)
  assert.deepEqual(segments.all(), [])
  segments.append(3, 10, 4_001, 5, policy)
  assert.deepEqual(segments.all().map((s) => [s.baseOffset, s.bytes]), [[3, 10]])
})

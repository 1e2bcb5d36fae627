/**
 * Record batches come back as they were sent, across many batches of one stream (sequential structures), including
 * binary fields, Maps and Dates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecordDecoder, RecordEncoder } from '../../../runtime/exchange/index.ts';

test('batches of varied records decode to equal values, in stream order, Buffers as Buffers', () => {
  const encoder = new RecordEncoder();
  const decoder = new RecordDecoder();
  const batches = [
    [{ id: 1, user: 'a' }, { id: 2, user: 'b' }],
    [{ id: 3, user: 'c', raw: Buffer.from('héllo'), bytes: new Uint8Array([1, 2, 3]), at: new Date(5), tags: new Map([['k', [1, null]]]) }],
    [{ id: 4, user: 'd' }, { nested: { deep: [true, 'x', 1.5] } }, 'not an object', 42],
    // More shapes than msgpackr shares, so some are written inline.
    Array.from({ length: 80 }, (_, i) => ({ [`field${i}`]: i })),
    [{ id: 5, user: 'e' }],
  ];
  // Copied out as the transport does: an encoded batch is only valid until the next encode.
  const encoded = batches.map((batch) => Uint8Array.from(encoder.encode(batch)));
  const decoded = encoded.map((bytes) => decoder.decode<unknown>(bytes));
  assert.deepEqual(decoded, batches);
  const withBinary = decoded[1]?.[0] as { raw: unknown; bytes: unknown };
  assert.ok(Buffer.isBuffer(withBinary.raw));
  assert.ok(withBinary.bytes instanceof Uint8Array && !Buffer.isBuffer(withBinary.bytes));
  // Binary fields are copies, not views that would pin the received chunk.
  assert.notEqual((withBinary.raw as Buffer).buffer, encoded[1]?.buffer);
});

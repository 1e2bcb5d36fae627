/** Errors crossing a thread or process boundary keep their code, retriable flag and causes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSluiceError, SluiceError } from '../../../runtime/errors/index.ts';
import { fromWireError, toWireError } from '../../../runtime/exchange/index.ts';

/** Through JSON, as a socket frame carries it. */
const across = (err: unknown): Error => fromWireError(JSON.parse(JSON.stringify(toWireError(err))));

test('an error comes back with its code, message, retriable flag and stack', () => {
  const sent = new SluiceError('SLUICE_STATE_INVALID_KEY', 'the key is bad', { retriable: false });
  const back = across(sent);
  assert.ok(isSluiceError(back, 'SLUICE_STATE_INVALID_KEY'));
  assert.equal(back.message, 'the key is bad');
  assert.equal(back.retriable, false);
  assert.equal(back.stack, sent.stack);
});

test('its causes come back too, with their codes, so a code can be found along the chain on either side', () => {
  const root = Object.assign(new Error('ECONNRESET'), { code: 'ECONNRESET' });
  const key = new SluiceError('SLUICE_STATE_INVALID_KEY', 'the key is bad', { retriable: false, cause: root });
  const operator = new SluiceError('SLUICE_OPERATOR_FAILED', 'operator "counts" failed: the key is bad', { retriable: false, cause: key });
  const back = across(operator);
  assert.ok(isSluiceError(back, 'SLUICE_OPERATOR_FAILED'));
  const cause = back.cause as Error;
  assert.ok(isSluiceError(cause, 'SLUICE_STATE_INVALID_KEY'));
  assert.equal(cause.retriable, false);
  assert.equal(cause.stack, 'SluiceError: the key is bad', "a cause's frames travel in the top error's stack only");
  const innermost = cause.cause as Error & { code?: string };
  assert.equal(innermost.message, 'ECONNRESET');
  assert.equal(innermost.code, 'ECONNRESET');
  assert.equal(innermost.cause, undefined);
});

test('a long chain keeps its first causes; a non-error becomes an Error with its text', () => {
  let err: Error = new Error('level 0');
  for (let i = 1; i <= 10; i++) err = new Error(`level ${i}`, { cause: err });
  let depth = 0;
  for (let e: unknown = across(err); e instanceof Error; e = e.cause) depth++;
  assert.equal(depth, 5, 'the error and 4 causes');
  assert.equal(across('plain text').message, 'plain text');
});

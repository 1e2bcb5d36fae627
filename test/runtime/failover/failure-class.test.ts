import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../../runtime/errors/index.ts';
import { classifyFailure } from '../../../runtime/failover/index.ts';

test('a SluiceError with retriable: false is fatal, decided by itself', () => {
  const err = new SluiceError('SLUICE_INVALID_OPTION', 'option "x" must be a number', { retriable: false });
  const verdict = classifyFailure(err);
  assert.equal(verdict.fatal, true);
  assert.equal(verdict.fatal && verdict.decidedBy, err);
});

test('retriable: true, an unset flag, a plain Error and a non-error are retriable', () => {
  assert.equal(classifyFailure(new SluiceError('SLUICE_KAFKA_UNREACHABLE', 'down', { retriable: true })).fatal, false);
  assert.equal(classifyFailure(new SluiceError('SLUICE_SOMETHING', 'who knows')).fatal, false);
  assert.equal(classifyFailure(new Error('cannot handle purchase 123457')).fatal, false);
  assert.equal(classifyFailure('a string was thrown').fatal, false);
  assert.equal(classifyFailure(undefined).fatal, false);
});

test('a wrapper that leaves retriable unset defers to its cause; one that sets it decides', () => {
  const fatal = new SluiceError('SLUICE_ES_BAD_RECORD', 'the id function returned undefined', { retriable: false });
  const deferring = new SluiceError('SLUICE_JOB_FAILED', 'job failed', { cause: new SluiceError('SLUICE_DEAD_LETTER', 'x', { cause: fatal }) });
  const verdict = classifyFailure(deferring);
  assert.equal(verdict.fatal, true);
  assert.equal(verdict.fatal && verdict.decidedBy.code, 'SLUICE_ES_BAD_RECORD');
  assert.equal(classifyFailure(new SluiceError('SLUICE_RETRY', 'retry', { cause: fatal, retriable: true })).fatal, false);
});

test('a cause cycle ends the walk instead of looping', () => {
  const a = new SluiceError('SLUICE_A', 'a');
  const b = new SluiceError('SLUICE_B', 'b', { cause: a });
  (a as { cause?: unknown }).cause = b;
  assert.equal(classifyFailure(a).fatal, false);
});

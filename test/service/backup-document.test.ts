import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSluiceError } from '../../runtime/errors/index.ts';
import { backupBytes, backupDocument, MAX_BACKUP_EXPORT_BYTES } from '../../runtime/service/savepoint-files.ts';

const info = { job: 'orders', checkpoint: 42, kind: 'savepoint' as const, timestamp: 1_700_000_000_000, totalBytes: 5 };

test('a backup document carries the export as base64, and gives it back', () => {
  const exported = Buffer.from([0, 1, 2, 250, 251, 252, 253]);
  const document = backupDocument(info, exported, 'unused');
  assert.deepEqual({ ...document, data: undefined }, { format: 'sluice-checkpoint-backup', version: 1, ...info, data: undefined });
  assert.deepEqual(backupBytes(JSON.parse(JSON.stringify(document))), exported);
});

test('an export too large for one backup document is refused with SLUICE_BACKUP_TOO_LARGE and the way to back it up instead', () => {
  // A JavaScript string holds at most ~512 Mi characters: the limit is ~384 MiB of export.
  assert.ok(MAX_BACKUP_EXPORT_BYTES > 380 * 2 ** 20 && (MAX_BACKUP_EXPORT_BYTES / 3) * 4 < 2 ** 29);
  // Only its length is read before the refusal: no 384 MiB buffer is needed to show it.
  const tooLarge = { length: MAX_BACKUP_EXPORT_BYTES + 1 } as unknown as Buffer;
  assert.throws(
    () => backupDocument(info, tooLarge, 'copy the data directory'),
    (e: unknown) => isSluiceError(e, 'SLUICE_BACKUP_TOO_LARGE') && /savepoint 42 of job "orders" is 384 MiB as an export, more than a backup document can carry .*; copy the data directory$/.test((e as Error).message),
  );
});

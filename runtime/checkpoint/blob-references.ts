import type { CheckpointManifest } from './manifest.ts';

/**
 * Which blob keys a deletion may remove: those of the deleted checkpoint — the ones it names and any stored under its
 * id — that no remaining manifest of the job names. Incremental checkpoints share blobs, so a blob lives as long as
 * some manifest names it, not as long as the checkpoint that wrote it. A remaining manifest that cannot be read names
 * nothing: it cannot be restored, so what it names need not be kept.
 * @internal
 */
export function removableBlobs(
  deleted: CheckpointManifest | undefined,
  storedUnderId: readonly string[],
  remaining: readonly CheckpointManifest[],
): string[] {
  const candidates = new Set(storedUnderId);
  for (const ref of deleted?.blobs ?? []) candidates.add(ref.key);
  if (candidates.size === 0) return [];
  const named = new Set<string>();
  for (const manifest of remaining) for (const ref of manifest.blobs) if (candidates.has(ref.key)) named.add(ref.key);
  return [...candidates].filter((key) => !named.has(key));
}

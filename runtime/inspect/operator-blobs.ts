import type { BlobRef, CheckpointManifest } from '../checkpoint/index.ts';

/** An operator's blobs of one kind in a manifest: how many parts (key groups, or subtasks) and their bytes. */
export interface OperatorBlobs {
  readonly uid: string;
  readonly name: string;
  readonly parts: number;
  readonly bytes: number;
}

/**
 * The operators of `manifest` with blobs that `partOf` places (a key group, a subtask; `undefined`: not of this
 * kind), in the order of the plan, then any the plan summary does not list (a manifest written by hand), by uid.
 * Reads the manifest only. @internal
 */
export function operatorsWithBlobs(manifest: CheckpointManifest, partOf: (ref: BlobRef) => number | undefined): OperatorBlobs[] {
  const byUid = new Map<string, { parts: Set<number>; bytes: number }>();
  for (const ref of manifest.blobs) {
    const part = partOf(ref);
    if (part === undefined) continue;
    const entry = byUid.get(ref.operatorUid) ?? { parts: new Set<number>(), bytes: 0 };
    entry.parts.add(part);
    entry.bytes += ref.size;
    byUid.set(ref.operatorUid, entry);
  }
  const named = manifest.operators.filter((op) => byUid.has(op.uid)).map((op) => ({ uid: op.uid, name: op.name }));
  for (const uid of byUid.keys()) if (!named.some((op) => op.uid === uid)) named.push({ uid, name: uid });
  return named.map(({ uid, name }) => ({ uid, name, parts: byUid.get(uid)!.parts.size, bytes: byUid.get(uid)!.bytes }));
}

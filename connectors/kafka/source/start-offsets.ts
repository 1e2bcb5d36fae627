import type { Admin } from 'kafkajs';
import type { StartFrom } from './options.ts';

/** Watermarks of one partition, as numbers. */
export interface PartitionOffsets {
  readonly low: number;
  readonly high: number;
}

/** Low and high watermark of every partition of `topic`. */
export async function fetchWatermarks(admin: Admin, topic: string): Promise<Map<number, PartitionOffsets>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));
}

/**
 * Turns `startFrom` into a concrete offset for each given partition of `topic`, so the reader always seeks to an
 * exact number and its positions are exact from the first checkpoint on. `committed` falls back to the earliest
 * offset for partitions the group has no offset for.
 */
export async function resolveStartOffsets(
  admin: Admin,
  topic: string,
  partitions: readonly number[],
  startFrom: StartFrom,
  groupId: string,
  watermarks: ReadonlyMap<number, PartitionOffsets>,
): Promise<Map<number, number>> {
  const result = new Map<number, number>();
  const low = (p: number): number => watermarks.get(p)?.low ?? 0;
  if (startFrom === 'earliest' || startFrom === 'latest') {
    for (const p of partitions) result.set(p, startFrom === 'earliest' ? low(p) : (watermarks.get(p)?.high ?? 0));
    return result;
  }
  if (startFrom === 'committed') {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const byPartition = new Map((committed?.partitions ?? []).map((c) => [c.partition, Number(c.offset)]));
    for (const p of partitions) {
      const offset = byPartition.get(p);
      result.set(p, offset !== undefined && offset >= 0 ? Math.max(offset, low(p)) : low(p));
    }
    return result;
  }
  // kafkajs answers the high watermark for partitions with no record at or after the timestamp.
  const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, startFrom.timestamp);
  const byPartition = new Map(byTime.map((o) => [o.partition, Number(o.offset)]));
  for (const p of partitions) result.set(p, byPartition.get(p) ?? low(p));
  return result;
}

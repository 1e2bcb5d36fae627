import type { ApiCodec } from './api-codec.ts';
import type { Reader } from './reader.ts';
import type { Writer } from './writer.ts';

/**
 * OffsetCommit Request (Version: 2-5) => group_id generation_id member_id retention_time(v2-4) [topics]
 *   group_id => STRING, generation_id => INT32, member_id => STRING, retention_time => INT64
 *   topics => topic [partitions => partition INT32, offset INT64, metadata NULLABLE_STRING]
 *
 * OffsetCommit Response (Version: 2-5) => throttle_time_ms(v3+) [responses]
 *   responses => topic [partition_responses => partition INT32, error_code INT16]
 *
 * generation_id -1 with an empty member_id is a "simple" commit from a client that does not use group management
 * (admin.setOffsets); it is accepted only while the group has no members.
 */
export interface OffsetCommitPartition {
  partition: number;
  offset: number;
  metadata: string | null;
}

export interface OffsetCommitRequest {
  groupId: string;
  generationId: number;
  memberId: string;
  topics: { name: string; partitions: OffsetCommitPartition[] }[];
}

export interface OffsetCommitResponse {
  topics: { name: string; partitions: { partition: number; errorCode: number }[] }[];
}

export const offsetCommitApi: ApiCodec<OffsetCommitRequest, OffsetCommitResponse> = {
  key: 8,
  name: 'OffsetCommit',
  minVersion: 2,
  maxVersion: 5,
  decodeRequest(r: Reader, version: number): OffsetCommitRequest {
    const groupId = r.string();
    const generationId = r.int32();
    const memberId = r.string();
    if (version <= 4) r.int64(); // retention_time: the broker's default retention applies
    const topics = r.array((r) => ({
      name: r.string(),
      partitions: r.array((r) => ({ partition: r.int32(), offset: r.int64(), metadata: r.nullableString() })),
    }));
    return { groupId, generationId, memberId, topics };
  },
  encodeResponse(w: Writer, res: OffsetCommitResponse, version: number): void {
    if (version >= 3) w.int32(0);
    w.array(res.topics, (w, t) => {
      w.string(t.name);
      w.array(t.partitions, (w, p) => w.int32(p.partition).int16(p.errorCode));
    });
  },
  errorResponse(req, errorCode) {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
      })),
    };
  },
};

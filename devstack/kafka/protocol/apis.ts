import type { AnyApiCodec } from './api-codec.ts';
import { addOffsetsToTxnApi } from './add-offsets-to-txn-v0-1.ts';
import { addPartitionsToTxnApi } from './add-partitions-to-txn-v0-1.ts';
import { alterConfigsApi } from './alter-configs-v0-1.ts';
import { apiVersionsApi } from './api-versions-v0-2.ts';
import { createPartitionsApi } from './create-partitions-v0-1.ts';
import { createTopicsApi } from './create-topics-v2-3.ts';
import { deleteGroupsApi } from './delete-groups-v0-1.ts';
import { deleteRecordsApi } from './delete-records-v0-1.ts';
import { deleteTopicsApi } from './delete-topics-v0-1.ts';
import { describeConfigsApi } from './describe-configs-v1-2.ts';
import { describeGroupsApi } from './describe-groups-v1-2.ts';
import { endTxnApi } from './end-txn-v0-1.ts';
import { fetchApi } from './fetch-v4-10.ts';
import { findCoordinatorApi } from './find-coordinator-v1-2.ts';
import { heartbeatApi } from './heartbeat-v1-2.ts';
import { initProducerIdApi } from './init-producer-id-v0-1.ts';
import { joinGroupApi } from './join-group-v2-3.ts';
import { leaveGroupApi } from './leave-group-v1-2.ts';
import { listGroupsApi } from './list-groups-v1-2.ts';
import { listOffsetsApi } from './list-offsets-v2-3.ts';
import { metadataApi } from './metadata-v1-6.ts';
import { offsetCommitApi } from './offset-commit-v2-5.ts';
import { offsetFetchApi } from './offset-fetch-v2-4.ts';
import { produceApi } from './produce-v3-7.ts';
import { saslAuthenticateApi } from './sasl-authenticate-v0.ts';
import { saslHandshakeApi } from './sasl-handshake-v0-1.ts';
import { syncGroupApi } from './sync-group-v1-2.ts';
import { txnOffsetCommitApi } from './txn-offset-commit-v0-1.ts';

/** Every API the broker implements; ApiVersions advertises exactly these ranges. */
export const ALL_APIS: readonly AnyApiCodec[] = [
  produceApi,
  fetchApi,
  listOffsetsApi,
  metadataApi,
  offsetCommitApi,
  offsetFetchApi,
  findCoordinatorApi,
  joinGroupApi,
  heartbeatApi,
  leaveGroupApi,
  syncGroupApi,
  describeGroupsApi,
  listGroupsApi,
  saslHandshakeApi,
  apiVersionsApi,
  createTopicsApi,
  deleteTopicsApi,
  deleteRecordsApi,
  initProducerIdApi,
  addPartitionsToTxnApi,
  addOffsetsToTxnApi,
  endTxnApi,
  txnOffsetCommitApi,
  describeConfigsApi,
  alterConfigsApi,
  saslAuthenticateApi,
  createPartitionsApi,
  deleteGroupsApi,
];

export const API_BY_KEY: ReadonlyMap<number, AnyApiCodec> = new Map(ALL_APIS.map((a) => [a.key, a]));

/** Resolves an API given as key or (case-insensitive) name, e.g. `1`, `'Fetch'`, `'fetch'`. */
export function resolveApi(api: number | string): AnyApiCodec | undefined {
  if (typeof api === 'number') return API_BY_KEY.get(api);
  const lower = api.toLowerCase();
  return ALL_APIS.find((a) => a.name.toLowerCase() === lower);
}

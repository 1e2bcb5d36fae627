import type { EsReply, EsRequest } from '../http-types.ts';
import { ES_VERSION } from '../version.ts';

/** `GET /`: the node banner clients read `version.number` from. */
export function info(request: EsRequest): EsReply {
  const { cluster } = request;
  return {
    status: 200,
    body: {
      name: cluster.nodeName,
      cluster_name: cluster.clusterName,
      cluster_uuid: cluster.clusterUuid,
      version: ES_VERSION,
      tagline: 'You Know, for Search',
    },
  };
}

/** `HEAD /`: what `client.ping()` sends. */
export function ping(): EsReply {
  return { status: 200 };
}

/**
 * `GET /_cluster/health`: one node, every primary assigned, replicas never (so "yellow" as soon as an index has
 * replicas, as a single real node reports).
 */
export function clusterHealth(request: EsRequest): EsReply {
  const indices = [...request.cluster.indices.values()];
  const primaries = indices.reduce((sum, index) => sum + index.settings.numberOfShards, 0);
  const unassigned = indices.reduce((sum, index) => sum + index.settings.numberOfShards * index.settings.numberOfReplicas, 0);
  return {
    status: 200,
    body: {
      cluster_name: request.cluster.clusterName,
      status: unassigned > 0 ? 'yellow' : 'green',
      timed_out: false,
      number_of_nodes: 1,
      number_of_data_nodes: 1,
      active_primary_shards: primaries,
      active_shards: primaries,
      relocating_shards: 0,
      initializing_shards: 0,
      unassigned_shards: unassigned,
      unassigned_primary_shards: 0,
      delayed_unassigned_shards: 0,
      number_of_pending_tasks: 0,
      number_of_in_flight_fetch: 0,
      task_max_waiting_in_queue_millis: 0,
      active_shards_percent_as_number: primaries + unassigned === 0 ? 100 : (100 * primaries) / (primaries + unassigned),
    },
  };
}

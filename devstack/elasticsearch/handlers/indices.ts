import type { EsReply, EsRequest } from '../http-types.ts';
import { mergeMappingDefinition, renderMapping } from '../mapping/mapping-tree.ts';
import { boolParam, jsonBody, objectBody } from '../request-body.ts';
import { renderSettings } from '../store/index-settings.ts';
import type { IndexStore } from '../store/index-store.ts';
import { INDEX_VERSION_CREATED } from '../version.ts';

/** Index administration: create, delete, exists, get, mappings, refresh. */

export function createIndex(request: EsRequest): EsReply {
  const name = request.params['index']!;
  request.cluster.create(name, jsonBody(request));
  return { status: 200, body: { acknowledged: true, shards_acknowledged: true, index: name } };
}

export function deleteIndex(request: EsRequest): EsReply {
  request.cluster.delete(request.params['index']!.split(','));
  return { status: 200, body: { acknowledged: true } };
}

export function indexExists(request: EsRequest): EsReply {
  const names = request.params['index']!.split(',');
  return { status: names.every((name) => request.cluster.get(name) !== undefined) ? 200 : 404 };
}

export function getIndex(request: EsRequest): EsReply {
  const body: Record<string, unknown> = {};
  for (const index of resolve(request)) {
    body[index.name] = { aliases: {}, mappings: renderMapping(index.mapping), settings: settingsOf(index) };
  }
  return { status: 200, body };
}

export function getSettings(request: EsRequest): EsReply {
  const body: Record<string, unknown> = {};
  for (const index of resolve(request)) body[index.name] = { settings: settingsOf(index) };
  return { status: 200, body };
}

export function getMapping(request: EsRequest): EsReply {
  const body: Record<string, unknown> = {};
  for (const index of resolve(request)) body[index.name] = { mappings: renderMapping(index.mapping) };
  return { status: 200, body };
}

export function putMapping(request: EsRequest): EsReply {
  const definition = objectBody(request, 'mapping source');
  const indices = resolve(request);
  // Validate against every index first, so a conflict leaves all of them untouched, as ES's cluster-state update.
  for (const index of indices) {
    const copy = structuredClone(renderMapping(index.mapping));
    const probe = { ...index.mapping, properties: new Map(), extras: {} };
    mergeMappingDefinition(probe, copy);
    mergeMappingDefinition(probe, definition);
  }
  for (const index of indices) {
    mergeMappingDefinition(index.mapping, definition);
    index.mappingChanged();
  }
  return { status: 200, body: { acknowledged: true } };
}

export function refresh(request: EsRequest): EsReply {
  const indices = resolve(request);
  for (const index of indices) index.refresh();
  const total = indices.reduce((sum, index) => sum + index.settings.numberOfShards * (1 + index.settings.numberOfReplicas), 0);
  const successful = indices.reduce((sum, index) => sum + index.settings.numberOfShards, 0);
  return { status: 200, body: { _shards: { total, successful, failed: 0 } } };
}

function resolve(request: EsRequest): IndexStore[] {
  const ignoreUnavailable = boolParam(request.query, 'ignore_unavailable') ?? false;
  return request.cluster.resolve(request.params['index'], { ignoreUnavailable });
}

function settingsOf(index: IndexStore): Record<string, unknown> {
  const flat: Record<string, string> = {
    'index.routing.allocation.include._tier_preference': 'data_content',
    ...index.settings.flat,
    'index.provided_name': index.name,
    'index.creation_date': String(index.creationDate),
    'index.uuid': index.uuid,
    'index.version.created': INDEX_VERSION_CREATED,
  };
  return renderSettings(flat);
}

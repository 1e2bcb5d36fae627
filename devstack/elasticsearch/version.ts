/** The Elasticsearch version the devstack reports: an 8.x, so clients 8 and 9 both accept it. */
export const ES_VERSION = {
  number: '8.15.0',
  build_flavor: 'default',
  build_type: 'docker',
  build_hash: '1a77947f34deddb41af25e6f0ddb8e830159c179',
  build_date: '2024-08-05T10:05:34.233336849Z',
  build_snapshot: false,
  lucene_version: '9.11.1',
  minimum_wire_compatibility_version: '7.17.0',
  minimum_index_compatibility_version: '7.0.0',
} as const;

/** `index.version.created` of an index made by that version. */
export const INDEX_VERSION_CREATED = '8512000';

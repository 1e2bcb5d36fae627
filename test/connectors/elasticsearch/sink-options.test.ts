import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink } from '../../../connectors/dev/index.ts';
import { BULK_DEFAULTS, elasticsearchSink, RETRY_DEFAULTS, type ElasticsearchSinkOptions } from '../../../connectors/elasticsearch/index.ts';

type Doc = { id: string };
const base: ElasticsearchSinkOptions<Doc> = { node: 'http://127.0.0.1:9200', index: 'docs', id: (d) => d.id };

function rejects(options: unknown, message: RegExp): void {
  assert.throws(() => elasticsearchSink(options as ElasticsearchSinkOptions<Doc>), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'SLUICE_INVALID_OPTION');
    assert.match(err.message, message);
    return true;
  });
}

test('valid options build a sink; documented defaults', () => {
  const sink = elasticsearchSink(base);
  assert.equal(sink.name, 'elasticsearch');
  assert.equal(sink.metrics().records, 0);
  assert.deepEqual(BULK_DEFAULTS, { maxActions: 1_000, maxBytes: 5 * 1024 * 1024, flushIntervalMs: 1_000, maxInFlight: 2 });
  assert.deepEqual(RETRY_DEFAULTS, { maxRetries: 8, initialBackoffMs: 100, maxBackoffMs: 10_000 });
  elasticsearchSink({ ...base, node: ['http://a:9200', 'https://user:pw@b:9243'], auth: { apiKey: 'k' }, action: 'upsert', bulk: { maxInFlight: 4 }, retry: { maxRetries: 0 } });
  elasticsearchSink({ node: 'http://x:9200', indexFn: (d: Doc) => `d-${d.id}`, id: 'topic-partition-offset', deadLetter: { sink: collectSink() } });
});

test('bad options fail fast with the option named', () => {
  rejects(undefined, /"options" must be an object/);
  rejects({ ...base, node: 'localhost:9200' }, /"node" must be an http\(s\) URL/);
  rejects({ ...base, node: [] }, /"node"/);
  rejects({ ...base, index: undefined }, /"index" and "indexFn" are both missing or both given/);
  rejects({ ...base, indexFn: () => 'x' }, /"index" and "indexFn" are both missing or both given/);
  rejects({ ...base, index: 'Orders' }, /"index" must be a valid Elasticsearch index name \(must be lowercase\)/);
  rejects({ ...base, index: '_x' }, /must not start with/);
  rejects({ ...base, index: 'a,b' }, /must not contain/);
  rejects({ ...base, id: undefined }, /"id" must be a function \(record\) => id or 'topic-partition-offset'/);
  rejects({ ...base, id: 'offset' }, /"id" must be/);
  rejects({ ...base, action: 'update' }, /"action" must be one of 'index', 'create', 'upsert', 'delete', got "update"/);
  rejects({ ...base, action: 'delete', document: (d: Doc) => d }, /"document" is given: leave it out with action 'delete'/);
  rejects({ ...base, document: {} }, /"document" must be a function/);
  rejects({ ...base, bulk: { maxActions: 0 } }, /"bulk.maxActions" must be a positive integer, got 0/);
  rejects({ ...base, bulk: { maxBytes: 100 } }, /"bulk.maxBytes" must be an integer ≥ 1024/);
  rejects({ ...base, bulk: { maxInFlight: 1.5 } }, /"bulk.maxInFlight" must be an integer from 1 to 64/);
  rejects({ ...base, bulk: { flushInterval: 5 } }, /"bulk.flushInterval" is not an option/);
  rejects({ ...base, retry: { maxRetries: -1 } }, /"retry.maxRetries" must be a non-negative integer/);
  rejects({ ...base, retry: { initialBackoffMs: 500, maxBackoffMs: 100 } }, /"retry.maxBackoffMs" must be at least retry.initialBackoffMs \(500\)/);
  rejects({ ...base, deadLetter: {} }, /"deadLetter" must be exactly one of/);
  rejects({ ...base, deadLetter: { index: 'dlq', file: '/tmp/x' } }, /"deadLetter" must be exactly one of/);
  rejects({ ...base, deadLetter: { index: 'docs' } }, /"deadLetter.index" must be different from the target index/);
  rejects({ ...base, deadLetter: { file: '' } }, /"deadLetter.file" must be a non-empty file path/);
  rejects({ ...base, deadLetter: { sink: {} } }, /"deadLetter.sink" must be a Sink/);
  rejects({ ...base, index: undefined, indexFn: () => 'x', createIndex: {} }, /"createIndex" is given with indexFn: it needs a fixed "index"/);
  rejects({ ...base, createIndex: { mapping: {} } }, /"createIndex.mapping" is not an option/);
  rejects({ ...base, auth: { user: 'a' } }, /"auth" must be \{ username, password \}, \{ apiKey \} or \{ bearer \}, got "\(hidden\)"/);
  rejects({ ...base, requestTimeoutMs: 0 }, /"requestTimeoutMs" must be a positive integer/);
  rejects({ ...base, batchSize: 10 }, /"batchSize" is not an option: the options are node, auth/);
});

// The job bench/kafka-to-elasticsearch.ts runs with `sluice run` in its own process for the peak-RSS figure:
// every Kafka record becomes a document with id <topic>-<partition>-<offset>.
//   --set brokers=… --set node=… --set topic=… --set index=… --set maxActions=… --set maxInFlight=…
import { elasticsearchSink } from '../../connectors/elasticsearch/index.ts';
import { kafkaSource, type KafkaRecord } from '../../connectors/kafka/index.ts';
import { defineJob } from '../../runtime/api/index.ts';

export default defineJob({ name: 'bench-kafka-to-es', parallelism: 1, checkpoints: { intervalMs: 1000 } }, (env, params) => {
  env
    .source(kafkaSource<unknown>({ brokers: params.string('brokers').split(','), topics: [params.string('topic')], format: 'json' }))
    .sink(
      elasticsearchSink<KafkaRecord<unknown>>({
        node: params.string('node'),
        index: params.string('index'),
        id: 'topic-partition-offset',
        bulk: { maxActions: params.number('maxActions', 1000), maxInFlight: params.number('maxInFlight', 2) },
      }),
    );
});

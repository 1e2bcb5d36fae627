/** Connectors for development and tests: generated and in-memory sources, in-memory, console and file sinks. */
export { datagen } from './datagen.ts';
export type { DatagenOptions } from './datagen.ts';
export { collection } from './collection.ts';
export { collectSink, CollectTarget } from './collect-sink.ts';
export { consoleSink } from './console-sink.ts';
export { fileSink, readPartFiles } from './file-sink.ts';
export type { FileSinkOptions } from './file-sink.ts';

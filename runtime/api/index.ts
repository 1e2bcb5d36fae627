/**
 * The job definition DSL: what job modules import.
 */
export { defineJob, isJobDefinition } from './job.ts';
export type { CheckpointOptions, JobBuilder, JobDefinition, JobOptions, StateBackendOptions } from './job.ts';
export { JobParams } from './job-params.ts';
export { Stream, OperatorStream, ProcessedStream, WindowResultStream, JoinedStream, SinkHandle, StreamEnvironment } from './stream.ts';
export { KeyedStream, WindowedStream } from './keyed-stream.ts';
export { CountWindowedStream } from './count-windows.ts';
export { AllWindowedStream, AllCountWindowedStream } from './all-windows.ts';
export type { CountWindow, CountWindowAggregate, CountWindowContext, CountWindowFunction } from './count-windows.ts';
export { BroadcastStream, ConnectedKeyedStreams, BroadcastConnectedStream } from './connected-streams.ts';
export { sideOutput, ERROR_OUTPUT, LATE_OUTPUT, LATE_LEFT_OUTPUT, LATE_RIGHT_OUTPUT } from './side-outputs.ts';
export { IntervalJoinBuilder, IntervalJoin } from './interval-join.ts';
export type { IntervalBoundsOptions } from './interval-join.ts';
export type { IntervalJoinContext, IntervalJoinFunction } from './interval-join-function.ts';
export type { JoinContext, JoinFunctionOutputs } from './join-support.ts';
export { WindowJoin } from './window-join.ts';
export type { WindowCoGroupFunction, WindowJoinContext, WindowJoinFunction } from './window-join-function.ts';
export type { FailedRecord, OutputDeclaration, OutputDeclarations, OutputValue } from './side-outputs.ts';
export type {
  BroadcastContext,
  BroadcastStateDeclarations,
  BroadcastStateHandles,
  KeyedBroadcastContext,
  KeyedBroadcastProcessFunction,
  KeyedCoProcessFunction,
  ReadOnlyBroadcastState,
  ReadOnlyMapState,
} from './co-process-function.ts';
export { tumblingWindows, slidingWindows, sessionWindows, assignWindows } from './windows.ts';
export type { TimeWindow, WindowTime, WindowAssigner, WindowOptions, WindowAggregate, WindowContext, ProcessWindowFunction, WindowSpec } from './windows.ts';
export type { SourceOptions } from './stream.ts';
export { boundedOutOfOrderness, monotonousTimestamps, customWatermarks, NO_WATERMARK, END_WATERMARK } from './event-time.ts';
export type { Watermark, WatermarkAlignment, WatermarkGenerator, WatermarkStrategy, WatermarkOptions } from './event-time.ts';
export { valueState, mapState, listState } from './state-declarations.ts';
export type { StateDeclaration, StateDeclarations, StateKind, StateOptions, StateTtl } from './state-declarations.ts';
export type {
  KeyedProcessContext,
  KeyedProcessFunction,
  ProcessContext,
  ProcessFunction,
  StateHandles,
  TimerService,
} from './process-function.ts';
export { END_OF_INPUT } from './connector.ts';
export { FixedHistogram } from './connector-metrics.ts';
export type { AsyncMapOptions } from './async-map.ts';
export type { ConnectorMetric, HistogramValues } from './connector-metrics.ts';
export type {
  CheckpointTiming,
  ConnectorEndpoint,
  Sink,
  SinkWriter,
  SinkWriterContext,
  Source,
  SourceReader,
  SourceReaderContext,
  SplitLag,
  SplitPosition,
  SplitsChange,
} from './connector.ts';
export type { ErrorPolicy, Partitioning, KeySelector } from './logical-graph.ts';

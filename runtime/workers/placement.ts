/**
 * Where subtasks run: Flink's slot sharing — subtask `i` of every stage goes to worker `i mod W`, so a forward chain
 * never crosses threads and every worker gets a slice of every stage.
 */
export function workerOf(subtask: number, workers: number): number {
  return subtask % workers;
}

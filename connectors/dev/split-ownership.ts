/** Dev sources spread their numbered splits round-robin: split `s` belongs to subtask `s % parallelism`. */
export function ownsSplit(split: number, subtask: number, parallelism: number): boolean {
  return split % parallelism === subtask;
}

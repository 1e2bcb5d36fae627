const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Shows a spinner with `label` and the elapsed seconds on stderr while `work` runs — only on a TTY, and only once it
 * has taken a second, so quick calls and scripts see nothing.
 *
 * @example
 * ```ts
 * const savepoint = await withSpinner('taking a savepoint of "orders"', client.request('POST', '/v1/jobs/orders/savepoints'));
 * ```
 */
export async function withSpinner<T>(label: string, work: Promise<T>, stream: NodeJS.WriteStream = process.stderr): Promise<T> {
  if (stream.isTTY !== true) return work;
  const started = Date.now();
  let frame = 0;
  let shown = false;
  const draw = (): void => {
    shown = true;
    const seconds = Math.floor((Date.now() - started) / 1000);
    stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label} (${seconds} s)`);
  };
  let ticker: NodeJS.Timeout | undefined;
  const delay = setTimeout(() => {
    draw();
    ticker = setInterval(draw, 100);
  }, 1000);
  try {
    return await work;
  } finally {
    clearTimeout(delay);
    if (ticker !== undefined) clearInterval(ticker);
    if (shown) stream.write('\r\x1b[2K');
  }
}

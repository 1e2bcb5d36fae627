// @ts-check
// The Sluice dashboard: a page that polls the REST API (docs/rest.md) of the server that served it, once a second.
// No framework and no build step: the DOM is built once per page and its sections are refilled on every poll, so
// open stack traces and a half-typed parallelism survive the refresh.

/** @typedef {{ stage: number, operators: string[], parallelism: number, recordsIn: number, recordsOut: number, recordsInPerSecond: number, recordsOutPerSecond: number, backpressureRatio: number, inputQueuedBytes?: number, watermark?: number | null, recordsSkipped?: number, feeds?: number[], stateEntries?: number | null }} Stage */
/** @typedef {{ id: number, kind: string, timestamp: number, durationMs: number, totalBytes: number, writtenBytes?: number, incremental?: boolean }} Checkpoint */
/** @typedef {{ name: string, state: string, parallelism: number | null, workers: number | null, attempt: number | null, uptimeMs: number | null, lastCheckpoint: Checkpoint | null, recordsInPerSecond?: number | null, file: string }} JobSummary */
/** @typedef {{ at: number, attempt?: number, code?: string, message: string, stack: string, fatal: boolean, restartInMs?: number }} JobException */
/** @typedef {{ from: number, to: number, reason: string, trigger: string, checkpointId: number, startedAt: number, durationMs: number }} Rescale */
/** @typedef {JobSummary & { operators: Stage[], checkpoints: Checkpoint[], failedCheckpoints?: { id: number, at: number, message: string }[], exceptions: JobException[], rescales: Rescale[], lastError: string | null, sourceLag: { source: string, subtask: number, split: string, lag: number, position?: number }[] }} JobStatus */
/** @typedef {{ at: number[], splits: { source: string, split: string, lag: (number | null)[] }[] }} LagHistory */

const POLL_MS = 1000;
/** Newest checkpoints shown (the service keeps the last 20 completed and 20 failed). */
const CHECKPOINT_ROWS = 12;
const TOKEN_KEY = 'sluice.token';
const numbers = new Intl.NumberFormat('en');

/** An API answer that was not 2xx, with the service's error code and message. */
class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * One request to the API, with the token when the page has one.
 * @param {string} path @param {{ method?: string, body?: unknown }} [options] @returns {Promise<any>}
 */
async function api(path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers['authorization'] = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method: options.method ?? 'GET', headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) showAuth(true);
  if (!response.ok) throw new ApiError(response.status, body?.error?.code ?? 'HTTP_' + response.status, body?.error?.message ?? response.statusText);
  return body;
}

// ---- small DOM helpers ----

/**
 * @param {string} tag @param {Record<string, string> | null} [attrs] @param {(Node | string | null | undefined)[]} children
 * @returns {HTMLElement}
 */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) el.setAttribute(k, v);
  for (const child of children) if (child !== null && child !== undefined) el.append(child);
  return el;
}

/** @param {string} id @returns {HTMLElement} */
function byId(id) {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing`);
  return el;
}

/** @param {number | null | undefined} n */
const num = (n) => (n === null || n === undefined ? '–' : numbers.format(n));
/** @param {number} ms */
const duration = (ms) => (ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 3_600_000 ? `${Math.floor(ms / 60_000)} min ${Math.floor((ms % 60_000) / 1000)} s` : `${(ms / 3_600_000).toFixed(1)} h`);
/** @param {number} bytes */
const size = (bytes) => (bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KiB` : bytes < 1024 ** 3 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${(bytes / 1024 ** 3).toFixed(2)} GiB`);
/** @param {number} at */
const time = (at) => new Date(at).toLocaleTimeString();
/** @param {string} text @param {string} [kind] */
const badge = (text, kind = text) => h('span', { class: `badge ${kind}` }, text);

/** Flink's backpressure levels: OK up to 10 % of the time, LOW up to 50 %, HIGH above. @param {number} ratio */
const backpressureLevel = (ratio) => (ratio <= 0.1 ? 'OK' : ratio <= 0.5 ? 'LOW' : 'HIGH');

/**
 * Replaces a table's body with rows, or one "empty" row.
 * @param {HTMLElement} table @param {HTMLElement[]} rows @param {string} emptyText
 */
function fillTable(table, rows, emptyText) {
  const body = table.querySelector('tbody') ?? table.appendChild(h('tbody'));
  const columns = table.querySelectorAll('th').length || 1;
  body.replaceChildren(...(rows.length > 0 ? rows : [h('tr', null, h('td', { class: 'empty', colspan: String(columns) }, emptyText))]));
}

/** @param {string[]} headings @param {Set<string>} [numeric] */
function table(headings, numeric = new Set()) {
  return h('table', null, h('thead', null, h('tr', null, ...headings.map((t) => h('th', numeric.has(t) ? { class: 'num' } : null, t)))), h('tbody'));
}

/** @param {(string | Node)[]} cells @param {Set<number>} [numeric] */
function row(cells, numeric = new Set()) {
  return h('tr', null, ...cells.map((c, i) => h('td', numeric.has(i) ? { class: 'num' } : null, c)));
}

// ---- authentication ----

/** @param {boolean} needed */
function showAuth(needed) {
  byId('auth').hidden = false;
  byId('auth-needed').hidden = !needed;
}

function setUpTokenForm() {
  const input = /** @type {HTMLInputElement} */ (byId('token'));
  byId('token-toggle').addEventListener('click', () => {
    const auth = byId('auth');
    auth.hidden = !auth.hidden;
  });
  byId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value.trim() === '') localStorage.removeItem(TOKEN_KEY);
    else localStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = '';
    byId('auth').hidden = true;
    void poll();
  });
  byId('token-forget').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    input.value = '';
    void poll();
  });
}

// ---- the job list (#/) ----

function jobListView() {
  const jobs = table(['Job', 'State', 'Parallelism', 'Workers', 'Attempt', 'Records/s', 'Uptime', 'Last checkpoint'], new Set(['Parallelism', 'Workers', 'Attempt', 'Records/s']));
  jobs.id = 'jobs';
  byId('view').replaceChildren(h('section', { class: 'card' }, h('h2', null, 'Jobs'), jobs));
  return async () => {
    /** @type {{ jobs: JobSummary[] }} */
    const { jobs: list } = await api('/v1/jobs');
    fillTable(
      jobs,
      list.map((job) => {
        const tr = row(
          [
            h('a', { href: `#/jobs/${encodeURIComponent(job.name)}` }, job.name),
            badge(job.state),
            num(job.parallelism),
            num(job.workers),
            num(job.attempt),
            job.recordsInPerSecond === null || job.recordsInPerSecond === undefined ? '–' : num(job.recordsInPerSecond),
            job.uptimeMs === null ? '–' : duration(job.uptimeMs),
            job.lastCheckpoint === null ? '–' : `#${job.lastCheckpoint.id} at ${time(job.lastCheckpoint.timestamp)}`,
          ],
          new Set([2, 3, 4, 5]),
        );
        tr.dataset['job'] = job.name;
        return tr;
      }),
      'No jobs yet: submit one with sluice submit <job.ts>.',
    );
  };
}

// ---- one job (#/jobs/<name>) ----

/** @typedef {{ uid: string, name: string, keyGroups: number, bytes: number }} KeyedOperator */
/** @typedef {{ uid: string, name: string, subtasks: number, bytes: number }} OperatorStateHolder */
/** @typedef {{ state: string, kind: string, key: string | number, value: unknown }} StateEntry */
/** @typedef {{ subtask: number, state?: unknown, watermark?: number, splitWatermarks?: Record<string, number> }} OperatorStateEntry */

/** Prefix of the operator picker's values that name an operator's operator state rather than its keyed state. */
const OPERATOR_STATE = 'operator-state:';

/** Entries a lookup without a key shows: a sample of the operator's state. */
const STATE_SAMPLE = 20;

/**
 * The "State" card: pick an operator with keyed state and look a key up in the job's newest checkpoint
 * (`GET /v1/jobs/<name>/state`), or see a sample of its entries; or pick one with operator state (broadcast state, a
 * sink's pending transactions) and see what each subtask stored. Operators are listed once a checkpoint exists.
 * @param {string} path
 */
function keyedStateCard(path) {
  const operator = /** @type {HTMLSelectElement} */ (h('select', { id: 'state-operator', 'aria-label': 'operator' }));
  const key = /** @type {HTMLInputElement} */ (h('input', { id: 'state-key', type: 'text', placeholder: 'key (empty: a sample)', 'aria-label': 'key', spellcheck: 'false' }));
  const lookup = /** @type {HTMLButtonElement} */ (h('button', { id: 'state-lookup', type: 'button' }, 'Look up'));
  const note = h('p', { id: 'state-note', class: 'meta' }, 'Operators with state appear once the job has a checkpoint.');
  const entries = table(['State', 'Kind', 'Key', 'Value']);
  entries.id = 'state-entries';
  const perSubtask = table(['Subtask', 'Watermark', 'Operator state']);
  perSubtask.id = 'operator-state-entries';
  perSubtask.hidden = true;
  const card = h('section', { class: 'card' }, h('h2', null, 'State (newest checkpoint)'), h('div', { class: 'controls' }, operator, ' ', key, ' ', lookup), note, entries, perSubtask);
  let listed = false;
  const loadOperators = async () => {
    if (listed) return;
    const answer = await api(`${path}/state`).catch(() => undefined);
    if (answer === undefined) return; // asked again at the next poll
    const operators = /** @type {KeyedOperator[]} */ (answer.operators);
    const holders = /** @type {OperatorStateHolder[]} */ (answer.operatorState ?? []);
    listed = true;
    const keyed = operators.map((op) => h('option', { value: op.uid }, `${op.uid} (${op.name}, ${size(op.bytes)})`));
    const stored = holders.map((op) => h('option', { value: `${OPERATOR_STATE}${op.uid}` }, `${op.uid} (${op.name}, ${op.subtasks} subtask${op.subtasks === 1 ? '' : 's'}, ${size(op.bytes)})`));
    operator.replaceChildren(
      ...(keyed.length === 0 ? [] : [h('optgroup', { label: 'keyed state' }, ...keyed)]),
      ...(stored.length === 0 ? [] : [h('optgroup', { label: 'operator state' }, ...stored)]),
    );
    note.textContent = keyed.length + stored.length === 0 ? 'No operator of this job holds state.' : '';
  };
  // Operator state belongs to subtasks, not keys: the key field has nothing to select then.
  operator.addEventListener('change', () => (key.disabled = operator.value.startsWith(OPERATOR_STATE)));
  lookup.addEventListener('click', async () => {
    if (operator.value === '') return;
    const operatorState = operator.value.startsWith(OPERATOR_STATE);
    const query = new URLSearchParams({ operator: operatorState ? operator.value.slice(OPERATOR_STATE.length) : operator.value });
    if (operatorState) query.set('operatorState', 'true');
    else if (key.value !== '') query.set('key', key.value);
    else query.set('limit', String(STATE_SAMPLE));
    lookup.disabled = true;
    note.className = 'meta';
    try {
      const answer = await api(`${path}/state?${query}`);
      entries.hidden = operatorState;
      perSubtask.hidden = !operatorState;
      if (operatorState) {
        const found = /** @type {OperatorStateEntry[]} */ (answer.entries);
        fillTable(perSubtask, found.map((e) => row([String(e.subtask), e.watermark !== undefined ? String(e.watermark) : e.splitWatermarks !== undefined ? JSON.stringify(e.splitWatermarks) : '', e.state === undefined ? '' : h('code', null, JSON.stringify(e.state))])), 'No operator state.');
      } else {
        const found = /** @type {StateEntry[]} */ (answer.entries);
        fillTable(entries, found.map((e) => row([e.state, e.kind, JSON.stringify(e.key), h('code', null, JSON.stringify(e.value))])), key.value === '' ? 'No entries.' : `No state for key ${JSON.stringify(key.value)}.`);
      }
      note.textContent = `Checkpoint ${answer.checkpoint.id}, ${time(answer.checkpoint.timestamp)}${answer.truncated ? `: the first ${answer.entries.length} entries` : ''}.`;
    } catch (err) {
      const e = /** @type {ApiError} */ (err);
      note.textContent = `Lookup failed: ${e.message}${e.code ? ` (${e.code})` : ''}`;
      note.className = 'error';
    }
    lookup.disabled = false;
  });
  return { card, loadOperators };
}

/** @param {string} name */
function jobView(name) {
  const path = `/v1/jobs/${encodeURIComponent(name)}`;
  const title = h('h1', null, name, ' ', h('span', { id: 'job-state' }));
  const meta = h('p', { class: 'meta', id: 'job-meta' });
  const message = h('p', { id: 'message' });
  const rescaleTo = /** @type {HTMLInputElement} */ (h('input', { id: 'rescale-to', type: 'number', min: '1', step: '1', 'aria-label': 'new parallelism' }));
  const button = (/** @type {string} */ id, /** @type {string} */ text) => /** @type {HTMLButtonElement} */ (h('button', { id, type: 'button' }, text));
  const buttons = { savepoint: button('savepoint', 'Savepoint'), rescale: button('rescale', 'Rescale'), pause: button('pause', 'Pause'), resume: button('resume', 'Resume'), cancel: button('cancel', 'Cancel') };
  const controls = h('div', { class: 'controls' }, buttons.savepoint, h('span', null, rescaleTo, ' ', buttons.rescale), buttons.pause, buttons.resume, buttons.cancel);
  const graph = h('div', { class: 'graph', id: 'graph' });
  const lagChart = h('div', { id: 'lag-chart' });
  const lagTable = table(['Source', 'Split', 'Subtask', 'Lag', 'Position'], new Set(['Subtask', 'Lag', 'Position']));
  lagTable.id = 'lag';
  const checkpoints = table(['Id', 'Kind', 'Outcome', 'Time', 'Duration', 'Size'], new Set(['Duration', 'Size']));
  checkpoints.id = 'checkpoints';
  const rescales = table(['Time', 'From', 'To', 'Trigger', 'Reason', 'Took'], new Set(['From', 'To', 'Took']));
  rescales.id = 'rescales';
  const exceptions = h('div', { id: 'exceptions' });
  const state = keyedStateCard(path);
  byId('view').replaceChildren(
    h('p', null, h('a', { href: '#/' }, '← all jobs')),
    h('section', { class: 'card' }, title, meta, controls, message),
    h('section', { class: 'card' }, h('h2', null, 'Job graph'), graph),
    h('section', { class: 'card' }, h('h2', null, 'Source lag (records behind, per partition)'), lagChart, lagTable),
    h('section', { class: 'card' }, h('h2', null, 'Checkpoints'), checkpoints),
    state.card,
    h('section', { class: 'card' }, h('h2', null, 'Rescales'), rescales),
    h('section', { class: 'card' }, h('h2', null, 'Exceptions'), exceptions),
  );

  /** @type {JobStatus | undefined} */
  let current;
  // While a control's request runs (a rescale takes seconds), polls must not enable the buttons again.
  let busy = false;
  /** @param {string} what @param {() => Promise<string>} action */
  const control = (what, action) => async () => {
    busy = true;
    Object.values(buttons).forEach((b) => (b.disabled = true));
    message.className = '';
    message.textContent = `${what}…`;
    try {
      message.textContent = await action();
      message.className = 'done';
    } catch (err) {
      const e = /** @type {ApiError} */ (err);
      message.textContent = e.status === 401 ? `Refused: ${e.message} (enter the service's token above)` : `${what} failed: ${e.message}${e.code ? ` (${e.code})` : ''}`;
      message.className = 'error';
    }
    busy = false;
    await refresh().catch(() => undefined);
  };
  buttons.savepoint.addEventListener('click', control('Savepoint', async () => {
    const { savepoint } = await api(`${path}/savepoints`, { method: 'POST' });
    return `Savepoint ${savepoint.id} taken (${size(savepoint.totalBytes)}).`;
  }));
  buttons.rescale.addEventListener('click', control('Rescale', async () => {
    const parallelism = Number(rescaleTo.value);
    const { rescale } = await api(`${path}/rescale`, { method: 'POST', body: { parallelism } });
    rescaleTo.value = '';
    return `Rescaled from ${rescale.from} to ${rescale.to} in ${duration(rescale.durationMs)}.`;
  }));
  buttons.pause.addEventListener('click', control('Pause', async () => {
    const { savepoint } = await api(`${path}/pause`, { method: 'POST' });
    return `Paused with savepoint ${savepoint.id}.`;
  }));
  buttons.resume.addEventListener('click', control('Resume', async () => {
    await api(`${path}/resume`, { method: 'POST' });
    return 'Resumed.';
  }));
  buttons.cancel.addEventListener('click', async () => {
    if (!window.confirm(`Cancel job "${name}"? It stops without a savepoint.`)) return;
    await control('Cancel', async () => {
      await api(`${path}/cancel`, { method: 'POST' });
      return 'Cancelled.';
    })();
  });

  /** @type {string | undefined} */
  let exceptionsShown;
  const refresh = async () => {
    const [{ job }, { lag }] = await Promise.all([api(path), api(`${path}/lag`)]);
    current = /** @type {JobStatus} */ (job);
    if (current.lastCheckpoint !== null) await state.loadOperators();
    renderSummary(current);
    renderGraph(graph, current.operators);
    renderLag(lagChart, lagTable, /** @type {LagHistory} */ (lag), current);
    renderCheckpoints(checkpoints, current);
    fillTable(rescales, [...current.rescales].reverse().map((r) => row([time(r.startedAt), String(r.from), String(r.to), r.trigger, r.reason, duration(r.durationMs)], new Set([1, 2, 5]))), 'No rescales.');
    const shown = current.exceptions.map((e) => e.at).join(',');
    if (shown !== exceptionsShown) {
      exceptionsShown = shown;
      exceptions.replaceChildren(...(current.exceptions.length === 0 ? [h('p', { class: 'empty' }, 'No exceptions.')] : current.exceptions.map(renderException)));
    }
  };
  /** @param {JobStatus} job */
  const renderSummary = (job) => {
    byId('job-state').replaceChildren(badge(job.state));
    const parts = [`parallelism ${num(job.parallelism)}`, `workers ${num(job.workers)}`, `attempt ${num(job.attempt)}`];
    if (job.uptimeMs !== null) parts.push(`up ${duration(job.uptimeMs)}`);
    parts.push(job.file);
    if (job.lastError) parts.push(`last error: ${job.lastError}`);
    meta.textContent = parts.join(' · ');
    const running = job.attempt !== null;
    if (busy) return;
    buttons.savepoint.disabled = !running;
    buttons.rescale.disabled = !running;
    buttons.pause.disabled = !running;
    buttons.cancel.disabled = !running && !['paused', 'stopped'].includes(job.state);
    buttons.resume.disabled = running || !['paused', 'stopped', 'cancelled', 'failed', 'finished'].includes(job.state);
    if (rescaleTo.value === '' && document.activeElement !== rescaleTo && job.parallelism !== null) rescaleTo.placeholder = String(job.parallelism);
  };
  return refresh;
}

/** @param {HTMLElement} graph @param {Stage[]} stages */
function renderGraph(graph, stages) {
  if (stages.length === 0) {
    graph.replaceChildren(h('p', { class: 'empty' }, 'Not running.'));
    return;
  }
  /** @type {HTMLElement[]} */
  const nodes = [];
  for (const stage of stages) {
    const level = backpressureLevel(stage.backpressureRatio);
    const box = h(
      'div',
      { class: `stage ${level}`, 'data-stage': String(stage.stage) },
      h('div', { class: 'ops' }, `${stage.stage}: ${stage.operators.join(' → ')}`),
      h(
        'dl',
        null,
        h('dt', null, 'parallelism'), h('dd', { 'data-field': 'parallelism' }, String(stage.parallelism)),
        h('dt', null, 'in/s'), h('dd', { 'data-field': 'in-rate' }, num(stage.recordsInPerSecond)),
        h('dt', null, 'out/s'), h('dd', { 'data-field': 'out-rate' }, num(stage.recordsOutPerSecond)),
        h('dt', null, 'records in'), h('dd', { 'data-field': 'records-in' }, num(stage.recordsIn)),
        h('dt', null, 'backpressure'), h('dd', { 'data-field': 'backpressure' }, badge(level), ` ${Math.round(stage.backpressureRatio * 100)} %`),
        ...(stage.recordsSkipped ? [h('dt', null, 'skipped'), h('dd', { 'data-field': 'skipped' }, num(stage.recordsSkipped))] : []),
        ...(stage.stage === 0 ? [] : [h('dt', null, 'queued in'), h('dd', { 'data-field': 'queued' }, size(stage.inputQueuedBytes ?? 0))]),
        ...(typeof stage.stateEntries === 'number' ? [h('dt', null, 'state keys'), h('dd', { 'data-field': 'state-keys' }, num(stage.stateEntries))] : []),
        ...(stage.watermark === null || stage.watermark === undefined
          ? []
          : [h('dt', null, 'watermark lag'), h('dd', { 'data-field': 'watermark-lag', title: new Date(stage.watermark).toISOString() }, duration(Math.max(0, Date.now() - stage.watermark)))]),
      ),
    );
    // Stages are drawn in plan order; an edge that is not simply "to the next stage" is written out.
    const feeds = stage.feeds ?? [];
    if (feeds.length > 0 && !(feeds.length === 1 && feeds[0] === stage.stage + 1)) {
      box.append(h('div', { class: 'feeds', 'data-field': 'feeds' }, `feeds stage${feeds.length > 1 ? 's' : ''} ${feeds.join(', ')}`));
    }
    if (nodes.length > 0) nodes.push(h('div', { class: 'arrow' }, '→'));
    nodes.push(box);
  }
  graph.replaceChildren(...nodes);
}

const SVG = 'http://www.w3.org/2000/svg';
const COLOURS = ['#2459c6', '#c73a2e', '#2f8f46', '#8a4fc2', '#c98a00', '#0f8b8d', '#b4457a', '#5d6875'];

/** @param {HTMLElement} chart @param {HTMLElement} lagTable @param {LagHistory} history @param {JobStatus} job */
function renderLag(chart, lagTable, history, job) {
  fillTable(lagTable, job.sourceLag.map((s) => row([s.source, s.split, String(s.subtask), num(s.lag), num(s.position)], new Set([2, 3, 4]))), 'No source reports lag.');
  if (history.at.length < 2 || history.splits.length === 0) {
    chart.replaceChildren(h('p', { class: 'empty' }, 'Lag appears here once the job has run a few seconds.'));
    return;
  }
  const width = 600;
  const height = 140;
  const pad = 4;
  const t0 = history.at[0] ?? 0;
  const t1 = history.at[history.at.length - 1] ?? t0 + 1;
  const max = Math.max(1, ...history.splits.flatMap((s) => s.lag.map((v) => v ?? 0)));
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'lag');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const legend = h('div', { class: 'legend' });
  history.splits.forEach((split, i) => {
    const points = [];
    for (let j = 0; j < history.at.length; j++) {
      const v = split.lag[j];
      if (v === null || v === undefined) continue;
      const x = pad + (((history.at[j] ?? t0) - t0) / Math.max(1, t1 - t0)) * (width - 2 * pad);
      const y = height - pad - (v / max) * (height - 2 * pad);
      points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
    }
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', points.join(' '));
    const colour = COLOURS[i % COLOURS.length] ?? '#000';
    line.setAttribute('stroke', colour);
    svg.append(line);
    const swatch = h('i');
    swatch.style.background = colour;
    legend.append(h('span', null, swatch, `${split.source} ${split.split}`));
  });
  legend.append(h('span', { class: 'empty' }, `top of the chart: ${numbers.format(max)} records · the last ${duration(t1 - t0)}`));
  chart.replaceChildren(svg, legend);
}

/** @param {HTMLElement} checkpointTable @param {JobStatus} job */
function renderCheckpoints(checkpointTable, job) {
  // An incremental checkpoint shows what it wrote beside the state a restore reads.
  const sizeOf = (/** @type {Checkpoint} */ c) => (c.incremental === true ? `${size(c.totalBytes)} (${size(c.writtenBytes ?? c.totalBytes)} written)` : size(c.totalBytes));
  const completed = job.checkpoints.map((c) => ({ at: c.timestamp, cells: [String(c.id), c.incremental === true ? `${c.kind} (incremental)` : c.kind, badge('completed'), time(c.timestamp), duration(c.durationMs), sizeOf(c)] }));
  const failed = (job.failedCheckpoints ?? []).map((c) => ({ at: c.at, cells: [String(c.id), 'checkpoint', badge('failed'), time(c.at), '–', c.message] }));
  const rows = [...completed, ...failed].sort((a, b) => b.at - a.at).slice(0, CHECKPOINT_ROWS).map((c) => row(c.cells, new Set([4, 5])));
  fillTable(checkpointTable, rows, 'No checkpoints yet.');
}

/** @param {JobException} e */
function renderException(e) {
  const what = `${time(e.at)} · ${e.code ?? 'error'}${e.attempt === undefined ? '' : ` · attempt ${e.attempt}`}${e.fatal ? ' · fatal' : e.restartInMs === undefined ? '' : ` · restart in ${duration(e.restartInMs)}`}`;
  return h('details', null, h('summary', null, h('strong', null, what), ' ', e.message), h('pre', null, e.stack));
}

// ---- routing and polling ----

/** @type {(() => Promise<void>) | undefined} */
let refresh;
let route = '';
/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;

function navigate() {
  route = location.hash;
  const match = /^#\/jobs\/(.+)$/.exec(route);
  refresh = match === null ? jobListView() : jobView(decodeURIComponent(match[1] ?? ''));
  void poll();
}

async function poll() {
  clearTimeout(timer);
  const connection = byId('connection');
  try {
    await refresh?.();
    connection.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    connection.classList.remove('down');
    if (!byId('auth-needed').hidden) byId('auth').hidden = true;
    byId('auth-needed').hidden = true;
  } catch (err) {
    const e = /** @type {ApiError} */ (err);
    connection.textContent = e.status === 401 ? 'token needed' : `not updating: ${e.message}`;
    connection.classList.add('down');
  }
  timer = setTimeout(() => void poll(), POLL_MS);
}

setUpTokenForm();
window.addEventListener('hashchange', navigate);
navigate();

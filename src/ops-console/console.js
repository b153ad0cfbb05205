// The ops console's script (docs/operations.md, "Ops console"). Plain browser JavaScript, no build:
// it calls the write API's admin fields with the pasted token and draws the answers with DOM calls
// (textContent only, never HTML from an answer: event payloads and errors are untrusted text).
// The token stays in sessionStorage and the Authorization header; it is never put in a URL or logged.
/* global document */
import { lineageQuery, listsQuery, mutations, recentQuery, statusSubscription } from './documents.js';

const tokenKey = 'ops-console-admin-token';
const writePath = document.body.dataset.writePath;
// The server measures the status this often and pushes it (the admin subscription projectionStatusUpdates).
const everySeconds = 2;
// A stream that ended (the server restarted or drained) is opened again after this long.
const reconnectMs = 3000;

const $ = (id) => document.getElementById(id);
let stream; // the AbortController of the open status stream
let reconnect; // the timer that opens it again
/** Previous checkpoint positions per consumer, for the throughput. */
let previous = new Map();
/** What the lists depend on, from the last pushed status: they are read again when it changes. */
let listsSignature;
/** The consumers' positions at the last read of the recent commands: read again when the log moved. */
let recentSignature;

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = message === '';
}

function showLive(text) {
  $('live').textContent = text;
}

function requestInit(query, variables, accept, signal) {
  const token = sessionStorage.getItem(tokenKey);
  if (!token) throw new Error('Paste an admin token first.');
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    credentials: 'omit',
    cache: 'no-store',
    signal,
  };
}

/** The first error of a GraphQL answer as `CODE: message`, or undefined. */
function errorOf(body) {
  const first = body.errors?.[0];
  if (!first) return undefined;
  const code = first.extensions?.code;
  return code ? `${code}: ${first.message}` : first.message;
}

async function graphql(query, variables) {
  const response = await fetch(writePath, requestInit(query, variables, 'application/json'));
  const body = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
  const error = errorOf(body);
  if (error) throw new Error(error);
  return body.data;
}

/** Calls `onResult` with each result the server pushes over SSE; settles when the stream ends. */
async function subscribe(query, variables, signal, onResult) {
  const response = await fetch(writePath, requestInit(query, variables, 'text/event-stream', signal));
  if (!response.headers.get('content-type')?.includes('text/event-stream')) {
    // Refused before streaming (a bad token): a plain GraphQL answer.
    const body = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
    onResult(body);
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replaceAll('\r\n', '\n');
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue; // keep-alive
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = text;
        else if (field === 'data') data.push(text);
      }
      if (event === 'next') onResult(JSON.parse(data.join('\n')));
      else if (event === 'complete') return;
    }
  }
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '—' : String(text);
  if (className) td.className = className;
  return td;
}

function button(label, action) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.addEventListener('click', () => {
    b.disabled = true;
    action()
      .then(refreshLists)
      .catch((error) => showError(error.message))
      .finally(() => (b.disabled = false));
  });
  return b;
}

function fill(tbody, rows, toCells, empty) {
  const trs = rows.map((row) => {
    const tr = document.createElement('tr');
    for (const td of toCells(row)) tr.append(td);
    return tr;
  });
  if (trs.length === 0) {
    const tr = document.createElement('tr');
    const td = cell(empty, 'muted');
    td.colSpan = tbody.closest('table').tHead.rows[0].cells.length;
    tr.append(td);
    trs.push(tr);
  }
  tbody.replaceChildren(...trs);
}

async function mutate(name, field, variables) {
  const data = await graphql(mutations[name], variables);
  const result = data[field];
  if (result.code) throw new Error(`${result.code}: ${result.message}`);
}

function throughput(status, now) {
  const before = previous.get(`${status.kind}/${status.name}`);
  if (!before || status.position === null || before.position === null) return null;
  const seconds = (now - before.at) / 1000;
  // Positions are 64-bit: BigInt for the difference, a Number for the rate.
  return seconds > 0 ? (Number(BigInt(status.position) - BigInt(before.position)) / seconds).toFixed(1) : null;
}

function renderStatus(statuses) {
  const now = Date.now();
  const next = new Map();
  fill(
    $('consumer-rows'),
    statuses,
    (s) => {
      next.set(`${s.kind}/${s.name}`, { position: s.position, at: now });
      const state = s.state.toLowerCase().replace('_', '-');
      return [
        cell(s.name),
        cell(s.kind.toLowerCase()),
        cell(state, `state-${state}`),
        cell(`${s.lagEvents}${s.lagEventsCapped ? '+' : ''}`, 'num'),
        cell(s.lagSeconds.toFixed(1), 'num'),
        cell(throughput(s, now), 'num'),
        cell(s.parked, 'num'),
        cell(s.position),
      ];
    },
    'No consumers.',
  );
  previous = next;
  $('updated').textContent = `Status pushed at ${new Date(now).toISOString()}.`;
}

function renderLists(data) {
  fill(
    $('parked-event-rows'),
    data.parkedEvents,
    (e) => {
      const actions = cell('');
      actions.textContent = '';
      actions.append(
        button('Retry', () => mutate('retry', 'retryParkedEvent', { projection: e.consumer, position: e.position })),
        button('Discard', () => mutate('discard', 'discardParkedEvent', { projection: e.consumer, position: e.position })),
      );
      return [
        cell(e.consumer),
        cell(e.position),
        cell(e.eventType),
        cell(e.key),
        cell(e.error),
        cell(e.retryRequestedAt ? `${e.attempts} (retry requested)` : e.attempts, 'num'),
        cell(e.parkedAt),
        actions,
      ];
    },
    'No parked events.',
  );
  fill(
    $('parked-saga-rows'),
    data.parkedSagas,
    (s) => {
      const actions = cell('');
      actions.textContent = '';
      actions.append(button('Resume', () => mutate('resume', 'resumeParkedSaga', { process: s.process, key: s.key })));
      return [cell(s.process), cell(s.key), cell(s.step), cell(s.error), cell(s.attempts, 'num'), cell(s.parkedAt), actions];
    },
    'No parked sagas.',
  );
  fill(
    $('webhook-rows'),
    data.webhookEndpoints,
    (w) => [
      cell(w.url),
      cell(w.status.toLowerCase()),
      cell(w.health.pending, 'num'),
      cell(w.health.parked, 'num'),
      cell(w.health.delivered, 'num'),
      cell(w.health.lastDeliveredAt),
      cell(w.health.lastFailureAt),
      cell(w.health.lastError),
    ],
    'No webhook endpoints.',
  );
}

/** The lineage as indented lines, offsets from its first command (the same reading as `npm run lineage`). */
function lineageLines(lineage) {
  if (lineage.commands.length === 0) return [`No events carry ${lineage.correlationId}.`];
  const start = Date.parse(lineage.commands[0].time);
  const at = (time) => `+${Date.parse(time) - start} ms`;
  const status = lineage.commandStatus ? `, async status ${lineage.commandStatus}` : '';
  const lines = [
    `correlation ${lineage.correlationId}: ${lineage.commands.length} command(s), ${lineage.durationMs} ms${status}${lineage.truncated ? ' (truncated)' : ''}`,
  ];
  for (const command of lineage.commands) {
    const indent = '  '.repeat(command.depth + 1);
    lines.push(`${indent}command ${command.commandId} by ${command.actor ?? 'unknown'} at ${at(command.time)}`);
    for (const event of command.events) {
      lines.push(`${indent}  event ${event.position} ${event.type} ${event.aggregateType}/${event.aggregateId} at ${at(event.recordedAt)}`);
      for (const h of event.handledBy) {
        const rows = h.kind === 'PROJECTION' ? `, rows ${h.rowsChanged}, pushes ${h.pushes}${h.sharedBatch ? ' (shared batch)' : ''}` : '';
        lines.push(`${indent}    ${h.kind.toLowerCase()} ${h.consumer} at ${at(h.handledAt)} (${h.afterMs} ms after commit)${rows}`);
      }
      for (const d of event.webhookDeliveries) lines.push(`${indent}    webhook ${d.endpointId}: ${d.status.toLowerCase()} after ${d.attempts} attempt(s)`);
    }
  }
  return lines;
}

async function showLineage(correlationId) {
  const data = await graphql(lineageQuery, { id: correlationId });
  const tree = $('lineage-tree');
  tree.textContent = lineageLines(data.lineage).join('\n');
  tree.hidden = false;
}

function renderRecent(commands) {
  fill(
    $('recent-command-rows'),
    commands,
    (c) => {
      const actions = cell('');
      actions.textContent = '';
      actions.append(button('Lineage', () => showLineage(c.correlationId)));
      return [cell(c.startedAt), cell(c.correlationId), cell(c.firstEventType), cell(c.events, 'num'), cell(c.actor), actions];
    },
    'No commands yet.',
  );
}

async function refreshRecent() {
  try {
    renderRecent((await graphql(recentQuery, {})).recentCommands);
  } catch (error) {
    showError(error.message);
  }
}

function clear() {
  for (const id of ['consumer-rows', 'parked-event-rows', 'parked-saga-rows', 'webhook-rows', 'recent-command-rows']) $(id).replaceChildren();
  $('lineage-tree').textContent = '';
  $('lineage-tree').hidden = true;
  recentSignature = undefined;
  previous = new Map();
  listsSignature = undefined;
  $('updated').textContent = '';
  showLive('');
}

/** Stops the stream and shows nothing but `message`: a refused token must leave no data on screen. */
function refuse(message) {
  stop();
  clear();
  showError(message);
}

async function refreshLists() {
  try {
    renderLists(await graphql(listsQuery, {}));
  } catch (error) {
    // A refused token is the status stream's to handle (it clears the page); here it is only shown.
    showError(error.message);
  }
}

function stop() {
  stream?.abort();
  stream = undefined;
  clearTimeout(reconnect);
}

/** Opens the status stream; the lists are read when it starts and whenever a parked count or the webhook dispatcher moves. */
function start() {
  stop();
  if (!sessionStorage.getItem(tokenKey)) return;
  const controller = new AbortController();
  stream = controller;
  showLive('connecting…');
  subscribe(statusSubscription, { everySeconds }, controller.signal, (result) => {
    const error = errorOf(result);
    if (error) return refuse(error);
    showError('');
    showLive(`live: pushed every ${everySeconds} s`);
    const statuses = result.data.projectionStatusUpdates;
    renderStatus(statuses);
    const signature = JSON.stringify(statuses.map((s) => [s.name, s.parked, s.name === 'webhook-dispatcher' ? s.position : null]));
    if (signature !== listsSignature) {
      listsSignature = signature;
      void refreshLists();
    }
    const positions = JSON.stringify(statuses.map((s) => s.position));
    if (positions !== recentSignature) {
      recentSignature = positions;
      void refreshRecent();
    }
  })
    .catch((error) => {
      if (!controller.signal.aborted) showError(error.message);
    })
    .finally(() => {
      if (stream !== controller) return; // stopped, or replaced by a newer stream
      showLive(`stream ended: reconnecting in ${reconnectMs / 1000} s`);
      reconnect = setTimeout(start, reconnectMs);
    });
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token')
    .value.trim()
    .replace(/^Bearer\s+/i, '');
  $('token').value = '';
  if (token) sessionStorage.setItem(tokenKey, token);
  clear();
  showError('');
  start();
});

$('forget-token').addEventListener('click', () => {
  sessionStorage.removeItem(tokenKey);
  stop();
  clear();
  showError('');
});

start();

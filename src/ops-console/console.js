// The ops console's script (docs/operations.md, "Ops console"). Plain browser JavaScript, no build:
// it calls the write API's admin fields with the pasted token and draws the answers with DOM calls
// (textContent only, never HTML from an answer: event payloads and errors are untrusted text).
// The token stays in sessionStorage and the Authorization header; it is never put in a URL or logged.
/* global document */

const tokenKey = 'ops-console-admin-token';
const writePath = document.body.dataset.writePath;
// How often the status is read again. The admin API has no subscription on the write API (its schema
// has none), so the console asks again on a short period.
const refreshMs = 2000;

const statusQuery = `query OpsConsole {
  projectionStatus { name kind state position lagEvents lagEventsCapped lagSeconds parked updatedAt }
  parkedEvents { consumer kind position eventType key error attempts parkedAt retryRequestedAt }
  parkedSagas { process key step error attempts parkedAt }
  webhookEndpoints { id url status health { pending parked delivered lastDeliveredAt lastFailureAt lastError } }
}`;

/** A mutation's result union: the success type, or a typed refusal (every one implements Error). */
const outcome = (field, success) => `${field} { ... on ${success} { __typename } ... on Error { __typename code message } }`;
const mutations = {
  retry: `mutation Retry($projection: String!, $position: String!) { ${outcome('retryParkedEvent(projection: $projection, position: $position)', 'MutationRetryParkedEventSuccess')} }`,
  discard: `mutation Discard($projection: String!, $position: String!) { ${outcome('discardParkedEvent(projection: $projection, position: $position)', 'MutationDiscardParkedEventSuccess')} }`,
  resume: `mutation Resume($process: String!, $key: String!) { ${outcome('resumeParkedSaga(process: $process, key: $key)', 'MutationResumeParkedSagaSuccess')} }`,
};

const $ = (id) => document.getElementById(id);
let timer;
/** Previous checkpoint positions per consumer, for the throughput. */
let previous = new Map();

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = message === '';
}

async function graphql(query, variables) {
  const token = sessionStorage.getItem(tokenKey);
  if (!token) throw new Error('Paste an admin token first.');
  const response = await fetch(writePath, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    credentials: 'omit',
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
  if (body.errors?.length) {
    const first = body.errors[0];
    const code = first.extensions?.code;
    throw new Error(code ? `${code}: ${first.message}` : first.message);
  }
  return body.data;
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
      .then(refresh)
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

function render(data) {
  const now = Date.now();
  const next = new Map();
  fill(
    $('consumer-rows'),
    data.projectionStatus,
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
  $('updated').textContent = `Updated ${new Date(now).toISOString()}.`;
}

function clear() {
  for (const id of ['consumer-rows', 'parked-event-rows', 'parked-saga-rows', 'webhook-rows']) $(id).replaceChildren();
  previous = new Map();
  $('updated').textContent = '';
}

async function refresh() {
  clearTimeout(timer);
  if (!sessionStorage.getItem(tokenKey)) return;
  try {
    render(await graphql(statusQuery, {}));
    showError('');
  } catch (error) {
    // A refused token shows nothing but the refusal.
    clear();
    showError(error.message);
  } finally {
    if (sessionStorage.getItem(tokenKey)) timer = setTimeout(() => void refresh(), refreshMs);
  }
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token')
    .value.trim()
    .replace(/^Bearer\s+/i, '');
  $('token').value = '';
  if (token) sessionStorage.setItem(tokenKey, token);
  void refresh();
});

$('forget-token').addEventListener('click', () => {
  sessionStorage.removeItem(tokenKey);
  clearTimeout(timer);
  clear();
  showError('');
});

void refresh();

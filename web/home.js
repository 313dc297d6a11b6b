// home.js — the page after sign-in: organisation, who is signed in, links to
// the account and administration pages and, for care providers, their open
// consults (with the invitations, their state and who waits, live) and the
// form to plan a new one. "Live": one WSS watch per open consult (the same
// {type: "watch"} the room page sends), whose `participants` pushes update
// the counts; the list itself is fetched again every minute.
import * as api from './api.js';
import { connect } from './consult-protocol.js';
import { $, clear, confirmDialog, formatClock, formatDay, initPage, requireSession, say, sayError, sayRaw, show, t } from './page.js';

const ROLES = { admin: 'role.admin', clinician: 'role.clinician' };
const KINDS = { patient: 'kind.patient', colleague: 'kind.colleague' };
const MAX_INVITEES = 8;
const DURATIONS = [10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 1440]; // minutes

const RELOAD_MS = 60000;
const MAX_WATCHES = 12; // the first ones by start time; the others show their state only

let maxHours = 24; // the organisation's consult_max_hours (known to admins; 24 is the server's ceiling)
let list = [];
let rowSeq = 0;
const watches = new Map(); // consult id -> {conn, people: [participants] | null}
const announced = new Set(); // participant ids already announced as waiting
const unwatchable = new Set(); // consult ids kamer would not let us watch (ended, gone)

function el(tag, cls) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  return e;
}

function button(key, onClick, describedBy) {
  const b = el('button');
  b.type = 'button';
  say(b, key);
  if (describedBy) b.setAttribute('aria-describedby', describedBy);
  b.addEventListener('click', () => onClick(b));
  return b;
}

function tag(key, cls, vars) {
  const s = el('span', cls ? `tag ${cls}` : 'tag');
  say(s, key, vars);
  return s;
}

// --- the list of consults

function invitationRow(c, v) {
  const tr = el('tr');
  const emailId = `inv-${v.id}`;
  const kind = el('td');
  say(kind, KINDS[v.kind] || 'kind.patient');
  const email = el('td');
  email.id = emailId;
  sayRaw(email, v.email);
  const state = el('td');
  if (v.revoked) state.append(tag('inv.revoked', 'bad'));
  else if (v.send_error) state.append(tag('inv.send_error', 'bad', { error: v.send_error }));
  else state.append(tag(v.sent ? 'inv.sent' : 'inv.not_sent', v.sent ? '' : 'bad'));
  if (v.used) state.append(tag('inv.used'));
  const actions = el('td', 'actions');
  if (!v.revoked && !c.ended) {
    actions.append(
      button('inv.resend', (b) => resend(b, v), emailId),
      button('inv.revoke', (b) => revoke(b, v), emailId),
    );
  }
  tr.append(kind, email, state, actions);
  return tr;
}

function consultItem(c) {
  const li = el('li', 'consult');
  const titleId = `consult-${c.id}`;
  const h = el('h3');
  h.id = titleId;
  const when = `${formatDay(c.starts_at)}, ${formatClock(c.starts_at)}–${formatClock(c.expires_at)}`;
  if (c.label) sayRaw(h, `${c.label} · ${when}`);
  else say(h, 'consults.untitled', { when });
  const open = el('a', 'button primary');
  open.href = `/room#${encodeURIComponent(c.id)}`;
  say(open, 'consults.open');
  open.setAttribute('aria-describedby', titleId);
  const wrap = el('div', 'table-wrap');
  const table = el('table');
  const cap = el('caption', 'visually-hidden');
  say(cap, 'inv.caption');
  const head = el('tr');
  for (const k of ['inv.kind', 'inv.email', 'inv.state', 'inv.actions']) {
    const th = el('th');
    th.scope = 'col';
    say(th, k);
    head.append(th);
  }
  const thead = el('thead');
  thead.append(head);
  const tbody = el('tbody');
  tbody.append(...(c.invitations || []).map((v) => invitationRow(c, v)));
  table.append(cap, thead, tbody);
  wrap.append(table);
  li.append(h);
  if (c.ended) li.append(tag('consults.ended', 'bad'));
  else li.append(stateLine(c), open);
  li.append(wrap);
  return li;
}

// "Open now · 1 waiting: Anna · 1 in the consult" for one consult.
function stateLine(c) {
  const p = el('p', 'consult-state');
  p.id = `cstate-${c.id}`;
  p.dataset.consult = String(c.id);
  const now = Math.floor(Date.now() / 1000);
  p.append(tag(now < c.starts_at ? 'consults.state_planned' : 'consults.state_open', now < c.starts_at ? '' : 'ok'));
  const w = watches.get(c.id);
  const people = w && w.people;
  if (people) {
    const waiting = people.filter((x) => x.state === 'waiting');
    const inRoom = people.filter((x) => x.state === 'admitted').length;
    const names = waiting.map((x) => x.name || t('room.no_name')).join(', ');
    if (waiting.length) p.append(' ', tag('consults.waiting', 'bad waiting', { n: waiting.length, names }));
    else p.append(' ', tag('consults.nobody_waiting'));
    p.append(' ', tag('consults.in_room', '', { n: inRoom }));
  }
  return p;
}

function renderList() {
  const hadFocus = document.activeElement && $('consults').contains(document.activeElement) ? document.activeElement.id : null;
  $('consults').replaceChildren(...list.map(consultItem));
  show($('consults-empty'), list.length === 0);
  if (hadFocus && $(hadFocus)) $(hadFocus).focus();
}

// Redraws one consult's state line (the rest of the item stays, so focus does).
function renderState(id) {
  const c = list.find((x) => x.id === id);
  const old = $(`cstate-${id}`);
  if (c && old) old.replaceWith(stateLine(c));
}

// --- live: who waits in each open consult

function onPeople(id, people) {
  const w = watches.get(id);
  if (!w) return;
  w.people = Array.isArray(people) ? people : [];
  for (const p of w.people) {
    if (p.state !== 'waiting' || announced.has(p.id)) continue;
    announced.add(p.id);
    const c = list.find((x) => x.id === id);
    say($('consults-live'), c && c.label ? 'consults.now_waiting_in' : 'consults.now_waiting',
      { name: p.name || t('room.no_name'), consult: (c && c.label) || '' });
  }
  renderState(id);
}

function unwatch(id) {
  const w = watches.get(id);
  if (w) w.conn.close();
  watches.delete(id);
}

function syncWatches() {
  const open = list.filter((c) => !c.ended && !unwatchable.has(c.id)).slice(0, MAX_WATCHES).map((c) => c.id);
  for (const id of [...watches.keys()]) if (!open.includes(id)) unwatch(id);
  for (const id of open) {
    if (watches.has(id)) continue;
    const conn = connect({ greeting: () => ({ type: 'watch', consult: id }), retries: 4 });
    watches.set(id, { conn, people: null });
    conn.on('room', (m) => onPeople(id, m.participants));
    conn.on('participants', (m) => onPeople(id, m.participants));
    const gone = () => {
      unwatchable.add(id);
      unwatch(id);
      loadConsults();
    };
    conn.on('ended', gone);
    conn.on('error', (m) => {
      if (m.code === 'ended' || m.code === 'not_found' || m.code === 'not_signed_in') gone();
    });
  }
}
window.addEventListener('pagehide', () => {
  for (const id of [...watches.keys()]) unwatch(id);
});

async function loadConsults() {
  const r = await api.consults();
  if (r.status !== 200) return sayError($('consults-error'), r);
  clear($('consults-error'));
  list = (r.body.consults || []).slice().sort((a, b) => a.starts_at - b.starts_at);
  syncWatches();
  renderList();
}

async function resend(b, v) {
  if (!(await confirmDialog('inv.confirm_resend', { email: v.email }, 'inv.resend'))) return;
  clear($('consults-error'));
  b.disabled = true;
  const r = await api.resendInvitation(v.id);
  b.disabled = false;
  if (r.status !== 200) sayError($('consults-error'), r);
  else say($('consults-status'), 'inv.resent', { email: v.email });
  await loadConsults();
}

async function revoke(b, v) {
  if (!(await confirmDialog('inv.confirm_revoke', { email: v.email }, 'inv.revoke', { danger: true }))) return;
  clear($('consults-error'));
  b.disabled = true;
  const r = await api.revokeInvitation(v.id);
  b.disabled = false;
  if (r.status !== 200) sayError($('consults-error'), r);
  else say($('consults-status'), 'inv.revoked_done', { email: v.email });
  await loadConsults();
  $('consults-title').focus();
}

$('consults-refresh').addEventListener('click', async () => {
  await loadConsults();
  say($('consults-status'), 'consults.refreshed');
});

// --- the new consult form

const pad = (n) => String(n).padStart(2, '0');

function fillDurations() {
  const sel = $('new-duration');
  const keep = sel.value || '30';
  const options = DURATIONS.filter((m) => m <= maxHours * 60).map((m) => {
    const o = el('option');
    o.value = String(m);
    if (m < 60) say(o, 'new.minutes', { n: m });
    else if (m % 60 === 0) say(o, m === 60 ? 'new.hour' : 'new.hours', { n: m / 60 });
    else say(o, 'new.hours_minutes', { h: Math.floor(m / 60), m: m % 60 });
    return o;
  });
  sel.replaceChildren(...options);
  sel.value = options.some((o) => o.value === keep) ? keep : options[options.length - 1].value;
  say($('new-duration-hint'), 'new.duration_hint', { n: maxHours });
}

function setDefaults() {
  // The next 5-minute mark, at least a few minutes from now.
  const d = new Date(Date.now() + 5 * 60000);
  d.setMinutes(Math.ceil(d.getMinutes() / 5) * 5, 0, 0);
  $('new-date').value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  $('new-time').value = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function renumber() {
  const rows = [...$('invitees').children];
  rows.forEach((li, i) => {
    say(li.querySelector('.who'), 'new.invitee_n', { n: i + 1 });
    li.querySelector('.remove').hidden = rows.length === 1;
  });
  $('invitee-add').disabled = rows.length >= MAX_INVITEES;
  show($('invitee-add'), rows.length < MAX_INVITEES);
}

function addInvitee(focus) {
  const n = ++rowSeq;
  const li = el('li', 'invitee');
  const who = el('p', 'who');
  who.id = `inv-who-${n}`;
  const eLabel = el('label');
  eLabel.htmlFor = `inv-email-${n}`;
  say(eLabel, 'new.email');
  const email = el('input');
  email.type = 'email';
  email.id = `inv-email-${n}`;
  email.className = 'inv-email';
  email.autocomplete = 'off';
  email.required = true;
  email.setAttribute('aria-describedby', `inv-err-${n}`);
  const kLabel = el('label');
  kLabel.htmlFor = `inv-kind-${n}`;
  say(kLabel, 'new.kind');
  const kind = el('select');
  kind.id = `inv-kind-${n}`;
  kind.className = 'inv-kind';
  for (const k of ['patient', 'colleague']) {
    const o = el('option');
    o.value = k;
    say(o, KINDS[k]);
    kind.append(o);
  }
  const err = el('p', 'error field-error');
  err.id = `inv-err-${n}`;
  const remove = button('new.remove_invitee', () => {
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    renumber();
    (next ? next.querySelector('input') : $('invitee-add')).focus();
  }, who.id);
  remove.classList.add('remove');
  const fields = el('div', 'row');
  const a = el('div');
  a.append(eLabel, email);
  const b = el('div');
  b.append(kLabel, kind);
  fields.append(a, b);
  li.append(who, fields, err, remove);
  $('invitees').append(li);
  renumber();
  if (focus) email.focus();
}

$('invitee-add').addEventListener('click', () => {
  if ($('invitees').children.length < MAX_INVITEES) addInvitee(true);
});

function invalid(input, errEl, key, vars) {
  input.setAttribute('aria-invalid', 'true');
  if (errEl) say(errEl, key, vars);
  return input;
}

$('new-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = $('new-error');
  clear(err);
  let firstBad = null;
  for (const i of $('new-form').querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  for (const p of $('invitees').querySelectorAll('.field-error')) clear(p);

  const date = $('new-date').value, time = $('new-time').value;
  const start = date && time ? new Date(`${date}T${time}`) : null;
  const minutes = Number($('new-duration').value);
  if (!start || Number.isNaN(start.getTime())) firstBad = invalid($('new-date'), null);
  const invitees = [];
  const seen = new Set();
  for (const li of $('invitees').children) {
    const email = li.querySelector('.inv-email'), e = li.querySelector('.field-error');
    const v = email.value.trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) firstBad = firstBad || invalid(email, e, 'err.email_format');
    else if (seen.has(v.toLowerCase())) firstBad = firstBad || invalid(email, e, 'new.duplicate');
    seen.add(v.toLowerCase());
    invitees.push({ email: v, kind: li.querySelector('.inv-kind').value });
  }
  if (firstBad) {
    say(err, firstBad === $('new-date') ? 'new.when_invalid' : 'new.not_planned');
    firstBad.focus();
    return;
  }
  const startsAt = Math.floor(start.getTime() / 1000);
  const expiresAt = startsAt + minutes * 60;
  const now = Math.floor(Date.now() / 1000);
  if (expiresAt <= now) {
    say(err, 'new.in_past');
    $('new-time').setAttribute('aria-invalid', 'true');
    $('new-time').focus();
    return;
  }
  if (expiresAt > now + maxHours * 3600) {
    say(err, 'new.too_late', { n: maxHours });
    $('new-date').setAttribute('aria-invalid', 'true');
    $('new-date').focus();
    return;
  }
  const body = { starts_at: startsAt, expires_at: expiresAt, invitees };
  const label = $('new-label').value.trim();
  if (label) body.label = label;
  ev.submitter && (ev.submitter.disabled = true);
  const r = await api.createConsult(body);
  ev.submitter && (ev.submitter.disabled = false);
  if (r.status !== 201) {
    if (r.code === 'invalid_field') say(err, 'new.refused', { n: maxHours });
    else sayError(err, r);
    return;
  }
  $('new-label').value = '';
  $('invitees').replaceChildren();
  addInvitee(false);
  setDefaults();
  const failed = (r.body.invitations || []).filter((v) => !v.sent || v.send_error).length;
  say($('consults-status'), failed ? 'new.created_failed' : 'new.created', { n: invitees.length, failed });
  await loadConsults();
  $('consults-title').focus();
});

// --- start

await initPage();
const me = await requireSession();
if (me) {
  sayRaw($('org-name'), me.org.name);
  // The role is a translated value inside a sentence: redone on a switch.
  const render = () => {
    const role = ROLES[me.user.role] ? t(ROLES[me.user.role]) : me.user.role;
    say($('whoami'), 'home.whoami', { email: me.user.email, role });
  };
  render();
  document.addEventListener('kamer:lang', render);
  show($('totp-hint'), !me.totp);
  show($('content'), true);
  if (me.user.role === 'clinician') {
    show($('consults-section'), true);
    show($('new-section'), true);
    fillDurations();
    setDefaults();
    addInvitee(false);
    // Dates are formatted text: redo them on a language switch.
    document.addEventListener('kamer:lang', renderList);
    await loadConsults();
    setInterval(loadConsults, RELOAD_MS);
  }
}

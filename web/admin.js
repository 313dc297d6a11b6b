// admin.js — the administration page (role admin): users and their set-up
// links, the organisation's security policy, and the audit log.
import * as api from './api.js';
import { isSwitch, wholeInRange } from './format.js';
import { $, clear, copyText, formatTime, initPage, requireSession, say, sayError, sayRaw, show, t } from './page.js';

const AUDIT_PAGE = 50;

// Policy fields in the order shown; label and hint keys per field. A field
// the server has and this list lacks is still shown, under its own name.
const POLICY = {
  min_password_len: ['policy.min_password_len', 'policy.min_password_len_hint'],
  require_2fa: ['policy.require_2fa', 'policy.require_2fa_hint'],
  idle_timeout_min: ['policy.idle_timeout_min', 'policy.idle_timeout_min_hint'],
  session_max_hours: ['policy.session_max_hours', 'policy.session_max_hours_hint'],
  lockout_failures: ['policy.lockout_failures', 'policy.lockout_failures_hint'],
  lockout_minutes: ['policy.lockout_minutes', 'policy.lockout_minutes_hint'],
  audit_retention_days: ['policy.audit_retention_days', 'policy.audit_retention_days_hint'],
  calllog_retention_days: ['policy.calllog_retention_days', 'policy.calllog_retention_days_hint'],
  consult_max_hours: ['policy.consult_max_hours', 'policy.consult_max_hours_hint'],
  full_client_ip: ['policy.full_client_ip', 'policy.full_client_ip_hint'],
  allow_aes128: ['policy.allow_aes128', 'policy.allow_aes128_hint'],
  colleagues_wait: ['policy.colleagues_wait', 'policy.colleagues_wait_hint'],
  reconsent_on_join: ['policy.reconsent_on_join', 'policy.reconsent_on_join_hint'],
};
const ROLES = { admin: 'role.admin', clinician: 'role.clinician' };

let me = null;
let current = {}; // the policy as saved
let limits = {};
let auditRows = [];
let auditAfter = 0;

function el(tag, text) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
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

// --- users

function stateKeys(u) {
  const keys = [];
  if (u.disabled) keys.push('users.disabled');
  if (u.locked) keys.push('users.locked');
  if (!u.has_password) keys.push('users.no_password');
  return keys.length ? keys : ['users.active'];
}

function userRow(u) {
  const tr = el('tr');
  const emailId = `user-${u.id}`;
  const email = el('td', u.email);
  email.id = emailId;
  const role = el('td');
  if (ROLES[u.role]) say(role, ROLES[u.role]);
  else sayRaw(role, u.role);
  const state = el('td');
  state.append(...stateKeys(u).map((k) => {
    const s = el('span');
    s.className = 'tag';
    say(s, k);
    return s;
  }));
  const twofa = el('td');
  say(twofa, u.totp ? 'users.twofa_on' : 'users.twofa_off');
  const actions = el('td');
  actions.className = 'actions';
  if (u.id !== me.user.id) {
    if (u.disabled) actions.append(button('users.enable', (b) => act(b, api.enableUser, u, 'users.enabled')));
    else actions.append(button('users.disable', (b) => act(b, api.disableUser, u, 'users.disabled_done', 'users.confirm_disable'), emailId));
  }
  if (u.totp && u.id !== me.user.id)
    actions.append(button('users.reset_2fa', (b) => act(b, api.reset2fa, u, 'users.reset_done', 'users.confirm_reset'), emailId));
  actions.append(button('users.new_link', (b) => newLink(b, u), emailId));
  tr.append(email, role, state, twofa, actions);
  return tr;
}

async function loadUsers() {
  const r = await api.users();
  if (r.status !== 200) return sayError($('users-error'), r);
  $('users').replaceChildren(...(r.body.users || []).map(userRow));
}

// Runs one user action after an optional confirmation and reloads the list.
async function act(b, call, u, doneKey, confirmKey) {
  if (confirmKey && !window.confirm(t(confirmKey, { email: u.email }))) return;
  clear($('users-error'));
  b.disabled = true;
  const r = await call(u.id);
  b.disabled = false;
  if (r.status !== 200) return sayError($('users-error'), r);
  say($('users-status'), doneKey, { email: u.email });
  await loadUsers();
  $('users-title').focus();
}

function showLink(link, email) {
  say($('link-note'), 'link.note', { email });
  $('link-value').value = link;
  clear($('link-status'));
  show($('link-box'), true);
  $('link-value').focus();
  $('link-value').select();
}

async function newLink(b, u) {
  if (u.has_password && !window.confirm(t('users.confirm_link', { email: u.email }))) return;
  clear($('users-error'));
  b.disabled = true;
  const r = await api.newSetupLink(u.id);
  b.disabled = false;
  if (r.status !== 200) return sayError($('users-error'), r);
  showLink(r.body.setup_link, u.email);
}

$('link-copy').addEventListener('click', async () => {
  const ok = await copyText($('link-value').value, $('link-value'));
  say($('link-status'), ok ? 'link.copied' : 'link.copy_failed');
});

$('add-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const email = $('add-email'), err = $('add-error');
  if (!/^[^\s@]+@[^\s@]+$/.test(email.value.trim())) {
    say(err, 'err.email_format');
    email.setAttribute('aria-invalid', 'true');
    email.focus();
    return;
  }
  email.removeAttribute('aria-invalid');
  clear(err);
  ev.submitter && (ev.submitter.disabled = true);
  const r = await api.addUser(email.value.trim(), $('add-role').value);
  ev.submitter && (ev.submitter.disabled = false);
  if (r.status !== 201 && r.status !== 200) {
    sayError(err, r);
    email.focus();
    return;
  }
  const added = email.value.trim();
  email.value = '';
  await loadUsers();
  showLink(r.body.setup_link, added);
});

// --- policy

function policyField(name) {
  const [labelKey, hintKey] = POLICY[name] || [];
  const [min, max] = limits[name] || [0, Number.MAX_SAFE_INTEGER];
  const wrap = el('div');
  wrap.className = 'field';
  const id = `pf-${name}`;
  const input = el('input');
  input.id = id;
  input.name = name;
  const label = el('label');
  label.htmlFor = id;
  if (labelKey) say(label, labelKey);
  else sayRaw(label, name);
  const hint = el('p');
  hint.className = 'hint';
  hint.id = `${id}-hint`;
  const error = el('p');
  error.className = 'error field-error';
  error.id = `${id}-error`;
  input.setAttribute('aria-describedby', `${hint.id} ${error.id}`);
  if (isSwitch(limits[name])) {
    input.type = 'checkbox';
    input.checked = current[name] === 1;
    wrap.classList.add('check');
    wrap.append(input, label, hint, error);
  } else {
    input.type = 'number';
    input.inputMode = 'numeric';
    input.min = String(min);
    input.max = String(max);
    input.step = '1';
    input.value = String(current[name]);
    wrap.append(label, input, hint, error);
  }
  if (hintKey) say(hint, hintKey, { min, max });
  else say(hint, 'policy.range', { min, max });
  return wrap;
}

function renderPolicy() {
  const names = [...Object.keys(POLICY).filter((n) => n in current), ...Object.keys(current).filter((n) => !(n in POLICY))];
  $('policy-fields').replaceChildren(...names.map(policyField));
}

async function loadPolicy() {
  const r = await api.policy();
  if (r.status !== 200) return sayError($('policy-error'), r);
  current = r.body.policy || {};
  limits = r.body.limits || {};
  renderPolicy();
}

function fieldError(name, key, vars) {
  const input = $(`pf-${name}`);
  if (!input) return null;
  input.setAttribute('aria-invalid', 'true');
  say($(`pf-${name}-error`), key, vars);
  return input;
}

$('policy-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const changed = {};
  let firstBad = null;
  clear($('policy-status'));
  clear($('policy-error'));
  for (const name of Object.keys(current)) {
    const input = $(`pf-${name}`);
    input.removeAttribute('aria-invalid');
    clear($(`pf-${name}-error`));
    const [min, max] = limits[name] || [0, Number.MAX_SAFE_INTEGER];
    const v = input.type === 'checkbox' ? Number(input.checked) : wholeInRange(input.value, min, max);
    if (v === null) firstBad = firstBad || fieldError(name, 'policy.range_error', { min, max });
    else if (v !== current[name]) changed[name] = v;
  }
  if (firstBad) {
    say($('policy-error'), 'policy.not_saved');
    firstBad.focus();
    return;
  }
  if (!Object.keys(changed).length) return say($('policy-status'), 'policy.unchanged');
  ev.submitter && (ev.submitter.disabled = true);
  const r = await api.putPolicy(changed);
  ev.submitter && (ev.submitter.disabled = false);
  if (r.status !== 200) {
    const input = r.field && limits[r.field] ? fieldError(r.field, 'policy.range_error', { min: limits[r.field][0], max: limits[r.field][1] }) : null;
    if (input) {
      say($('policy-error'), 'policy.not_saved');
      input.focus();
    } else {
      sayError($('policy-error'), r);
    }
    return;
  }
  current = r.body.policy || { ...current, ...changed };
  renderPolicy();
  say($('policy-status'), 'policy.saved');
});

// --- audit log

function actorOf(row) {
  return [row.actor_type, row.actor_role, row.actor_id, row.on_behalf ? `(${row.on_behalf})` : ''].filter(Boolean).join(' ');
}

function auditRow(row) {
  const tr = el('tr');
  tr.append(el('td', String(row.seq ?? '')), el('td', formatTime(row.ts)), el('td', row.action || ''),
    el('td', row.outcome || ''), el('td', actorOf(row)),
    el('td', [row.object_type, row.object_id].filter(Boolean).join(' ')),
    el('td', row.client_ip || ''), el('td', row.detail || ''));
  if (row.outcome && row.outcome !== 'success') tr.className = 'failure';
  return tr;
}

function renderAudit() {
  $('audit').replaceChildren(...auditRows.map(auditRow));
}

async function loadAudit() {
  const more = $('audit-more');
  more.disabled = true;
  const r = await api.audit(auditAfter, AUDIT_PAGE);
  more.disabled = false;
  if (r.status !== 200) return sayError($('audit-error'), r);
  clear($('audit-error'));
  const rows = r.body.rows || [];
  auditRows.push(...rows);
  auditAfter = r.body.next_after ?? auditAfter;
  $('audit').append(...rows.map(auditRow));
  show(more, rows.length === AUDIT_PAGE);
  say($('audit-status'), 'audit.shown', { n: auditRows.length });
}

$('audit-more').addEventListener('click', loadAudit);

async function loadConsent() {
  const r = await api.consentText();
  if (r.status !== 200) return sayError($('consent-error'), r);
  $('consent-nl').value = r.body.nl;
  $('consent-en').value = r.body.en;
  say($('consent-status'), 'consenttext.version', { v: r.body.version });
}

$('consent-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clear($('consent-error'));
  const nl = $('consent-nl').value.trim(), en = $('consent-en').value.trim();
  if (!nl || !en) return say($('consent-error'), 'consenttext.both');
  const r = await api.putConsentText(nl, en);
  if (r.status !== 200) return sayError($('consent-error'), r);
  say($('consent-status'), 'consenttext.saved', { v: r.body.version });
});

// "Active consults now": times, clinician and head counts only.
let active = null;
function renderActive() {
  if (!active) return;
  say($('active-status'), 'active.summary', { n: active.open_consults, in_call: active.in_call, waiting: active.waiting });
  $('active').replaceChildren(...(active.consults || []).map((k) => {
    const tr = el('tr');
    const started = el('td');
    if (k.started_at) started.textContent = formatTime(k.started_at);
    else say(started, 'active.not_started');
    tr.append(el('td', formatTime(k.starts_at)), started, el('td', k.clinician),
      el('td', String(k.in_call)), el('td', String(k.waiting)));
    return tr;
  }));
}

async function loadActive() {
  clear($('active-error'));
  const r = await api.activeConsults();
  if (r.status !== 200) return sayError($('active-error'), r);
  active = r.body;
  renderActive();
}
$('active-refresh').addEventListener('click', loadActive);

await initPage();
me = await requireSession({ role: 'admin' });
if (me) {
  $('audit-csv').href = api.AUDIT_CSV_URL;
  $('audit-json').href = api.AUDIT_JSON_URL;
  $('calllog-csv').href = api.CALLLOG_CSV_URL;
  say($('org'), 'admin.org', { org: me.org.name });
  show($('content'), true);
  document.addEventListener('kamer:lang', renderAudit);
  document.addEventListener('kamer:lang', renderActive);
  setInterval(loadActive, 30000);
  await Promise.all([loadUsers(), loadPolicy(), loadAudit(), loadConsent(), loadActive()]);
}

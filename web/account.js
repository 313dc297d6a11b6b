// account.js — the signed-in user's own account: change the password, see
// and end sessions, set up two-step verification again.
import * as api from './api.js';
import { uaSummary } from './format.js';
import { startEnrol } from './enrol.js';
import { $, clear, formatTime, initPage, requireSession, say, sayError, show } from './page.js';

let me = null;
let sessionList = [];

function renderState() {
  say($('twofa-state'), me.totp ? 'twofa.on' : 'twofa.off');
  show($('twofa-password-field'), me.totp);
  say($('twofa-form').querySelector('button[type=submit]'), me.totp ? 'twofa.start_again' : 'twofa.start');
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function renderSessions() {
  const rows = sessionList.map((s) => {
    const tr = document.createElement('tr');
    const browser = cell(uaSummary(s.user_agent) || s.user_agent || '–');
    if (s.user_agent) browser.title = s.user_agent;
    tr.append(cell(formatTime(s.created_at)), cell(formatTime(s.last_seen)), cell(s.client_ip || '–'), browser);
    const last = document.createElement('td');
    if (s.current) {
      const mark = document.createElement('strong');
      say(mark, 'sessions.current');
      last.append(mark);
      tr.className = 'current';
    } else {
      const b = document.createElement('button');
      b.type = 'button';
      say(b, 'sessions.end');
      b.addEventListener('click', () => endSession(s.id, b));
      last.append(b);
    }
    tr.append(last);
    return tr;
  });
  $('sessions').replaceChildren(...rows);
}

async function loadSessions() {
  const r = await api.sessions();
  if (r.status !== 200) return sayError($('sessions-error'), r);
  clear($('sessions-error'));
  sessionList = (r.body.sessions || []).slice().sort((a, b) => (b.current - a.current) || (b.last_seen - a.last_seen));
  renderSessions();
}

async function endSession(sid, button) {
  button.disabled = true;
  const r = await api.endSession(sid);
  if (r.status !== 200) {
    button.disabled = false;
    return sayError($('sessions-error'), r);
  }
  say($('sessions-status'), 'sessions.ended');
  await loadSessions();
  $('sessions-title').focus();
}

$('pw-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const cur = $('pw-current'), pw = $('pw-new'), repeat = $('pw-repeat'), err = $('pw-error');
  clear($('pw-status'));
  let problem = null, focus = null;
  if (!cur.value || !pw.value) [problem, focus] = [['err.fields_required'], cur.value ? pw : cur];
  else if ([...pw.value].length < me.min_password_len) [problem, focus] = [['pw.too_short', { n: me.min_password_len }], pw];
  else if (pw.value !== repeat.value) [problem, focus] = [['err.mismatch'], repeat];
  if (problem) {
    say(err, ...problem);
    focus.focus();
    return;
  }
  clear(err);
  ev.submitter && (ev.submitter.disabled = true);
  const r = await api.changePassword(cur.value, pw.value);
  ev.submitter && (ev.submitter.disabled = false);
  if (r.status !== 200) {
    sayError(err, r, { n: me.min_password_len });
    (r.code === 'password_wrong' ? cur : pw).focus();
    return;
  }
  cur.value = pw.value = repeat.value = '';
  say($('pw-status'), 'account.pw_changed');
  loadSessions();
});

$('twofa-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const pw = $('twofa-password'), err = $('twofa-error');
  clear($('twofa-status'));
  if (me.totp && !pw.value) {
    say(err, 'err.fields_required');
    pw.focus();
    return;
  }
  clear(err);
  ev.submitter && (ev.submitter.disabled = true);
  const r = await startEnrol(me.totp ? pw.value : undefined, enrolled);
  ev.submitter && (ev.submitter.disabled = false);
  pw.value = '';
  if (r.status !== 200) {
    sayError(err, r);
    if (me.totp) pw.focus();
    return;
  }
  show($('twofa-form'), false);
});

function enrolled() {
  me.totp = true;
  show($('enrol'), false);
  show($('twofa-form'), true);
  renderState();
  say($('twofa-status'), 'twofa.done');
  $('twofa').focus();
}

await initPage();
me = await requireSession();
if (me) {
  $('pw-username').value = me.user.email;
  say($('whoami'), 'account.whoami', { email: me.user.email });
  say($('pw-rules'), 'setup.rules', { n: me.min_password_len });
  renderState();
  show($('content'), true);
  document.addEventListener('kamer:lang', renderSessions);
  await loadSessions();
  if (location.hash === '#twofa') $('twofa').focus();
}

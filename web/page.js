// page.js — what every page shares: the language switch, strings in the
// page's language, error messages by API code, the sign-out button,
// requireSession() and the idle-timeout notice. Page modules import this;
// api.js stays free of DOM.
import * as api from './api.js';
import { apply, pickLanguage, t as tr, wireSwitch } from './i18n.js';
import { dateOf } from './format.js';

export const lang = () => document.documentElement.lang || 'en';

// The string for key in the page's language.
export function t(key, vars) {
  return tr(lang(), key, vars);
}

export const $ = (id) => document.getElementById(id);

// Puts the string for key into el and keeps it there across language switches.
export function say(el, key, vars) {
  el.dataset.i18n = key;
  if (vars) el.dataset.i18nArgs = JSON.stringify(vars);
  else delete el.dataset.i18nArgs;
  el.textContent = t(key, vars);
}

// Puts text that is not from the catalogue (server data) into el.
export function sayRaw(el, text) {
  delete el.dataset.i18n;
  delete el.dataset.i18nArgs;
  el.textContent = text;
}

export const clear = (el) => sayRaw(el, '');

export function show(el, on = true) {
  el.hidden = !on;
}

// API error code -> catalogue key.
const ERRORS = {
  network: 'err.network',
  bad_answer: 'err.bad_answer',
  signin_failed: 'err.signin_failed',
  code_wrong: 'err.code_wrong',
  setup_link_invalid: 'err.setup_link_invalid',
  password_wrong: 'err.password_wrong',
  password_rejected: 'err.password_rejected',
  email_taken: 'err.email_taken',
  not_signed_in: 'err.not_signed_in',
  second_factor_required: 'err.second_factor_required',
  forbidden: 'err.forbidden',
  not_found: 'err.not_found',
  origin_refused: 'err.origin_refused',
  invalid_field: 'err.invalid_field',
  internal: 'err.internal',
  not_possible: 'err.not_possible',
  link_invalid: 'err.link_invalid',
  store_failed: 'err.store_failed',
  storage_full: 'err.storage_full',
};

// password_rejected reason -> catalogue key.
const REASONS = {
  too_short: 'pw.too_short',
  too_long: 'pw.too_long',
  contains_email: 'pw.contains_email',
  dictionary: 'pw.dictionary',
  control_chars: 'pw.control_chars',
  invalid_utf8: 'pw.invalid_utf8',
};

// Shows the message for a failed API call r in el (by code and reason, with
// the server's own message as the last resort). vars are passed on.
export function sayError(el, r, vars) {
  if (r.code === 'too_many_attempts') {
    // Whole minutes (rounded up), so that the text needs no plural forms.
    const s = r.retryAfter;
    if (s === null || s === undefined) say(el, 'err.too_many_attempts_later');
    else if (s <= 60) say(el, 'err.too_many_attempts_minute');
    else say(el, 'err.too_many_attempts', { n: Math.ceil(s / 60) });
  } else if (r.code === 'password_rejected' && REASONS[r.reason]) {
    say(el, REASONS[r.reason], vars);
  } else if (ERRORS[r.code]) {
    say(el, ERRORS[r.code], { field: r.field || '', ...vars });
  } else if (r.message) {
    sayRaw(el, r.message);
  } else {
    say(el, 'err.generic', { status: r.status });
  }
}

// "12 Mar 2025, 14:05" in the page's language, or '–'.
export function formatTime(v) {
  const d = dateOf(v);
  if (!d) return '–';
  return new Intl.DateTimeFormat(lang(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

// "Tuesday 12 March 2025" / "14:05" in the page's language, or '–'.
export function formatDay(v) {
  const d = dateOf(v);
  return d ? new Intl.DateTimeFormat(lang(), { dateStyle: 'full' }).format(d) : '–';
}
export function formatClock(v) {
  const d = dateOf(v);
  return d ? new Intl.DateTimeFormat(lang(), { timeStyle: 'short' }).format(d) : '–';
}

// A modal confirmation (<dialog>): resolves true for OK, false for Cancel or
// Escape. text is a catalogue key (with vars); okKey labels the OK button.
// Focus returns to where it was.
export function confirmDialog(textKey, vars, okKey = 'dialog.ok', { danger = false } = {}) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const d = document.createElement('dialog');
    d.className = 'confirm';
    const p = document.createElement('p');
    p.id = `dlg-${Date.now()}`;
    say(p, textKey, vars);
    d.setAttribute('aria-describedby', p.id);
    const ok = document.createElement('button');
    ok.type = 'button';
    ok.className = danger ? 'danger' : 'primary';
    ok.dataset.answer = 'ok';
    say(ok, okKey);
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.dataset.answer = 'cancel';
    say(cancel, 'dialog.cancel');
    d.append(p, ok, cancel);
    document.body.append(d);
    const done = (answer) => {
      d.close();
      d.remove();
      if (back && back.isConnected) back.focus();
      resolve(answer);
    };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    d.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      done(false);
    });
    d.showModal();
    cancel.focus();
  });
}

// Copies text to the clipboard; falls back to selecting input for Ctrl+C.
// Returns true when copied.
// Plays two sine tones on the AudioContext a: tones is [[offset s, Hz], ...],
// each rising to peak in 20-30 ms and fading out over len s. Returns the last
// oscillator (its onended marks the end).
export function chime(a, tones, { peak = 0.3, len = 0.2 } = {}) {
  const t0 = a.currentTime + 0.03;
  let last = null;
  for (const [at, freq] of tones) {
    const osc = a.createOscillator();
    const gain = a.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t0 + at);
    gain.gain.exponentialRampToValueAtTime(peak, t0 + at + 0.025);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + len);
    osc.connect(gain).connect(a.destination);
    osc.start(t0 + at);
    osc.stop(t0 + at + len + 0.02);
    last = osc;
  }
  return last;
}

export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.focus();
      input.select();
    }
    return false;
  }
}

async function signOut() {
  await api.signout();
  location.assign('/signin');
}

// Wires the language switch and the sign-out button and applies the
// language; await it before rendering anything.
export async function initPage() {
  wireSwitch();
  const out = $('signout');
  if (out) out.addEventListener('click', signOut);
  await apply(pickLanguage());
}

// The answer of GET /auth/me for a fully signed-in user, or null after
// starting a redirect (to /signin, or to /home when role is not met).
// Reveals [data-role=admin] elements for admins and starts the idle notice.
export async function requireSession({ role } = {}) {
  const r = await api.me();
  if (r.status === 401 || (r.status === 200 && r.body.stage !== 'full')) {
    location.replace('/signin');
    return null;
  }
  if (r.status !== 200) {
    const el = $('error');
    if (el) sayError(el, r);
    return null;
  }
  const me = r.body;
  if (role && me.user.role !== role) {
    location.replace('/home');
    return null;
  }
  for (const el of document.querySelectorAll('[data-role="admin"]')) show(el, me.user.role === 'admin');
  if (me.idle_timeout_min > 0) watchIdle(me.idle_timeout_min);
  return me;
}

// The idle notice: the server ends a session after idle_timeout_min without
// a request. A minute before, offer to stay; after, say it has ended.
function watchIdle(minutes) {
  const box = document.createElement('div');
  box.className = 'notice idle';
  box.setAttribute('role', 'alert');
  box.hidden = true;
  const text = document.createElement('p');
  const stay = document.createElement('button');
  stay.type = 'button';
  say(stay, 'idle.stay');
  const again = document.createElement('a');
  again.href = '/signin';
  say(again, 'idle.signin');
  box.append(text, stay, again);
  (document.querySelector('main') || document.body).prepend(box);

  let deadline = 0, ended = false;
  const restart = () => {
    deadline = Date.now() + minutes * 60000;
    if (!ended) box.hidden = true;
  };
  restart();
  api.onRequest(restart);
  stay.addEventListener('click', async () => {
    const r = await api.me();
    if (r.status === 401) end();
  });
  function end() {
    ended = true;
    stay.hidden = true;
    again.hidden = false;
    box.hidden = false;
    say(text, 'idle.ended');
    clearInterval(timer);
  }
  const timer = setInterval(() => {
    const left = deadline - Date.now();
    if (left <= 0) return end();
    if (left <= 60000 && box.hidden) {
      stay.hidden = false;
      again.hidden = true;
      box.hidden = false;
      say(text, 'idle.warning');
    }
  }, 5000);
}

// join.js — the page behind an invitation link (/j/TOKEN) for a patient or a
// colleague: welcome, consent (patients), name, waiting room, the consult
// (chat; video later) and the pages for a link that is not valid, an ended
// consult, refused consent or admission, and a lost connection.
//
// The token is read from location.pathname and only ever sent over the WSS
// connection: never in a query string, never stored. Once joined, the
// server's resume secret becomes an HttpOnly cookie (POST
// /participant/cookie) and the token is taken out of the address bar, so a
// reload (of /j/) comes back with {type: "resume"}. localStorage holds only
// a non-secret hint that this browser has such a cookie (the consult's end
// time), so that a link opened again tries resume before joining anew.
import * as api from './api.js';
import { connect } from './consult-protocol.js';
import { chatPanel } from './chat.js';
import { $, clear, confirmDialog, formatClock, formatDay, initPage, lang, say, sayRaw, show, t } from './page.js';

const HINT = 'kamer.participant';
const KINDS = { patient: 'kind.patient', colleague: 'kind.colleague' };
const SCREENS = ['s-loading', 's-welcome', 's-consent', 's-name', 's-waiting', 's-admitted', 's-end'];
const WS_ERRORS = {
  out_of_order: 'ws.out_of_order', store_failed: 'err.store_failed', rate_limited: 'ws.rate_limited',
  too_large: 'ws.too_large', invalid_message: 'ws.invalid_message', consent_outdated: 'join.consent_outdated',
};

const match = location.pathname.match(/^\/j\/([A-Za-z0-9_-]{43})$/);
let token = match ? match[1] : null;
let conn = null;
let me = null; // {id (pseudonym), kind, state}
let info = null; // {org, starts_at, expires_at}
let consent = null;
let greeted = null; // 'join' | 'resume': what the current connection was greeted with
let haveCookie = false;
let refusedConsent = false;
let finished = false;
let current = 's-loading';
let refSeq = 0;

const nowS = () => Math.floor(Date.now() / 1000);
function hinted() {
  const v = Number(localStorage.getItem(HINT));
  return Number.isFinite(v) && v > nowS();
}
const forget = () => localStorage.removeItem(HINT);

function screen(id, focus = true) {
  current = id;
  for (const s of SCREENS) show($(s), s === id);
  const h = $(id).querySelector('h1');
  if (focus && h) h.focus();
}

// --- the consult's details

function renderInfo() {
  if (!info) return;
  sayRaw($('welcome-org'), info.org);
  say($('welcome-when'), 'join.when', { day: formatDay(info.starts_at), time: formatClock(info.starts_at) });
  say($('org-line'), 'join.org_line', { org: info.org, day: formatDay(info.starts_at), time: formatClock(info.starts_at) });
  show($('org-line'), current !== 's-welcome' && current !== 's-end');
}

function renderConsent() {
  if (!consent) return;
  const text = lang() === 'nl' ? consent.nl || consent.en : consent.en || consent.nl;
  sayRaw($('consent-text'), text || '');
}

// --- screens by state

function showState(state, { fresh = false } = {}) {
  if (finished) return;
  if (me) me.state = state;
  if (state === 'consent' || state === 'name') {
    if (fresh) screen('s-welcome');
    else screen(state === 'consent' ? 's-consent' : 's-name');
    if (state === 'name' && !fresh) $('name').focus();
  } else if (state === 'waiting') {
    screen('s-waiting');
    say($('waiting-status'), 'join.waiting_since', { time: formatClock(nowS()) });
  } else if (state === 'admitted') {
    screen('s-admitted');
  } else if (state === 'refused') {
    end(refusedConsent ? 'consent_refused' : 'refused');
  } else if (state === 'left') {
    end('left');
  }
  renderInfo();
}

const ENDS = {
  invalid: ['join.invalid_title', 'join.invalid_text'],
  ended_by_clinician: ['join.ended_title', 'join.ended_text'],
  expired: ['join.ended_title', 'join.expired_text'],
  consent_refused: ['join.consent_refused_title', 'join.consent_refused_text'],
  refused: ['join.refused_title', 'join.refused_text'],
  left: ['join.left_title', 'join.left_text'],
};

function end(kind) {
  if (finished) return;
  finished = true;
  forget();
  token = null;
  if (conn) conn.close();
  const [title, text] = ENDS[kind] || ENDS.invalid;
  say($('end-title'), title);
  say($('end-text'), text);
  show($('conn-lost'), false);
  clear($('conn-status'));
  screen('s-end');
  show($('org-line'), false);
}

// --- steps

$('welcome-next').addEventListener('click', () => {
  if (me.state === 'consent') {
    screen('s-consent');
  } else {
    screen('s-name');
    $('name').focus();
  }
});

$('consent-accept').addEventListener('click', () => {
  clear($('consent-error'));
  conn.send({ type: 'consent', accept: true, version: consent ? consent.version : 0, ref: `c${++refSeq}` });
});

$('consent-refuse').addEventListener('click', async () => {
  if (!(await confirmDialog('join.confirm_refuse', null, 'join.refuse', { danger: true }))) return;
  refusedConsent = true;
  conn.send({ type: 'consent', accept: false, version: consent ? consent.version : 0, ref: `c${++refSeq}` });
});

$('name-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const field = $('name');
  const v = field.value.trim();
  field.removeAttribute('aria-invalid');
  clear($('name-error'));
  let bad = null;
  if (!v) bad = 'join.name_empty';
  else if (new TextEncoder().encode(v).length > 64) bad = 'join.name_long';
  else if (/[\u0000-\u001f\u007f]/.test(v)) bad = 'join.name_chars';
  if (bad) {
    say($('name-error'), bad);
    field.setAttribute('aria-invalid', 'true');
    field.focus();
    return;
  }
  conn.send({ type: 'name', display_name: v, ref: `n${++refSeq}` });
});

// --- chat

const chat = chatPanel({
  log: 'chat-log', form: 'chat-form', input: 'chat-text', error: 'chat-error',
  own: (from) => me && from === `${me.kind}:${me.id}`,
  senderOf(from) {
    const kind = String(from).split(':')[0];
    if (kind === 'clinician') return { key: 'chat.clinician' };
    return { key: KINDS[kind] || 'chat.someone' };
  },
  send(text) {
    return conn && !finished ? conn.send({ type: 'chat', text, ref: `chat${++refSeq}` }) : false;
  },
});

// --- the connection

async function onJoined(m) {
  const fresh = typeof m.resume === 'string';
  me = { ...m.participant };
  info = { org: m.org, starts_at: m.starts_at, expires_at: m.expires_at };
  consent = m.consent || consent;
  renderConsent();
  if (Array.isArray(m.chat)) chat.set(m.chat);
  if (fresh) {
    // A reload must come back: the resume secret becomes this browser's cookie.
    const r = await api.participantCookie(m.resume);
    if (r.status === 200) {
      haveCookie = true;
      localStorage.setItem(HINT, String(m.expires_at));
      token = null;
      // Out of the address bar, so the link is not shared or bookmarked by accident.
      history.replaceState(null, '', '/j/');
    }
  } else {
    haveCookie = true;
  }
  showState(me.state, { fresh: fresh && (me.state === 'consent' || me.state === 'name') });
  if (m.reconsent) askAgain(null);
}

// Private messages while waiting (the care provider may check who you are).
function privateLine(who, text) {
  const li = document.createElement('li');
  const b = document.createElement('strong');
  b.textContent = `${who}: `;
  li.append(b, text);
  $('private-log').append(li);
}

$('private-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('private-text').value.trim();
  if (!text) return;
  conn.send({ type: 'private', text, ref: `m${++refSeq}` });
  privateLine(t('join.private_you'), text);
  $('private-text').value = '';
});

// Someone new was let in and the organisation asks patients to consent
// again before that person's video and sound reach them.
function askAgain(role) {
  if (finished) return;
  screen('s-consent');
  if (role) say($('consent-status'), role === 'colleague' ? 'join.reconsent_colleague' : 'join.reconsent_patient');
}

function greeting(again) {
  // A reconnect resumes by cookie; the first connection resumes when this
  // browser has (probably) been here before, or when there is no token.
  if (token && !(again ? haveCookie : haveCookie || hinted())) {
    greeted = 'join';
    return { type: 'join', token };
  }
  greeted = 'resume';
  return { type: 'resume' };
}

function onError(m) {
  if (m.code === 'link_invalid') {
    if (greeted === 'resume' && token) {
      // The cookie was not (or no longer) good: use the link instead.
      forget();
      haveCookie = false;
      greeted = 'join';
      conn.send({ type: 'join', token });
      return;
    }
    end('invalid');
    return;
  }
  const key = WS_ERRORS[m.code];
  const ref = typeof m.ref === 'string' ? m.ref : '';
  const target = ref.startsWith('chat') ? $('chat-error') : ref.startsWith('n') ? $('name-error')
    : ref.startsWith('c') ? $('consent-error') : $('conn-status');
  if (ref.startsWith('c')) refusedConsent = false;
  if (key) say(target, key);
  else sayRaw(target, m.message || m.code || '');
}

function onStatus(s, st) {
  if (finished) return;
  if (s === 'reconnecting') {
    say($('conn-lost-text'), 'conn.restoring', { n: st.attempt, of: st.of });
    show($('conn-retry'), false);
    show($('conn-lost'), true);
  } else if (s === 'failed') {
    say($('conn-lost-text'), 'conn.failed');
    show($('conn-retry'), true);
    show($('conn-lost'), true);
  } else if (s === 'open') {
    show($('conn-lost'), false);
    if (st.reconnected) say($('conn-status'), 'conn.restored');
    else clear($('conn-status'));
  } else if (s === 'connecting') {
    say($('conn-status'), 'conn.connecting');
  }
}

$('conn-retry').addEventListener('click', () => {
  show($('conn-retry'), false);
  conn.retry();
});

document.addEventListener('kamer:lang', () => {
  renderInfo();
  renderConsent();
  chat.redraw();
});

await initPage();
if (!token && !hinted() && location.pathname !== '/j/') {
  end('invalid');
} else {
  conn = connect({ greeting });
  conn.onStatus(onStatus);
  conn.on('joined', onJoined);
  conn.on('state', (m) => {
    if (m.state === 'admitted' && Array.isArray(m.chat)) chat.set(m.chat);
    showState(m.state);
  });
  conn.on('chat', (m) => chat.add(m));
  conn.on('private', (m) => {
    privateLine(t('join.private_from'), m.text);
    show($('private'), true);
  });
  conn.on('reconsent', (m) => {
    consent = m.consent || consent;
    renderConsent();
    askAgain(m.role);
  });
  conn.on('joined_room', (m) => say($('room-status'), m.role === 'colleague' ? 'join.colleague_joined' : 'join.patient_joined'));
  conn.on('ended', (m) => end(m.reason === 'expired' ? 'expired' : 'ended_by_clinician'));
  conn.on('error', onError);
}

// room.js — the clinician's consult room (/room#ID): the call (call.js,
// started as soon as the consult is open), the waiting room with Admit /
// Refuse, who is in the consult, the chat, the waiting alert (tone, tab
// title, banner) and ending the consult. The WSS protocol itself is in
// consult-protocol.js; this file only renders and reacts.
import * as api from './api.js';
import { connect } from './consult-protocol.js';
import { chatPanel } from './chat.js';
import { callView } from './call.js';
import { $, chime, clear, confirmDialog, formatClock, formatDay, initPage, requireSession, say, sayError, sayRaw, show, t } from './page.js';

const KINDS = { patient: 'kind.patient', colleague: 'kind.colleague' };
const OTHER_STATES = { consent: 'pstate.consent', name: 'pstate.name', refused: 'pstate.refused', left: 'pstate.left' };
// Protocol error code -> catalogue key.
const WS_ERRORS = {
  out_of_order: 'ws.out_of_order', forbidden: 'err.forbidden', not_found: 'room.not_found',
  store_failed: 'err.store_failed', rate_limited: 'ws.rate_limited', too_large: 'ws.too_large',
  invalid_message: 'ws.invalid_message', not_signed_in: 'err.not_signed_in',
  invalid_field: 'ws.invalid_message', storage_full: 'err.storage_full',
};

let me = null;
let conn = null;
let consult = null;
let participants = [];
const names = new Map(); // pseudonym -> display name, kept for chat labels after someone leaves
let ended = false;
let alerting = false;
let refSeq = 0;
let call = null; // the call view (call.js)
let callStarted = false; // started once automatically; after that the clinician decides

const consultId = Number.parseInt(decodeURIComponent(location.hash.slice(1)), 10);

function el(tag, cls) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  return e;
}

// --- the waiting tone (Web Audio: two short sine beeps, no audio file)

let audio = null;
function audioContext() {
  const C = window.AudioContext || window.webkitAudioContext;
  if (!audio && C) audio = new C();
  return audio;
}
function unlockAudio() {
  const a = audioContext();
  if (a && a.state === 'suspended') a.resume().catch(() => {});
}
function beep() {
  const a = audioContext();
  if (!a) return;
  if (a.state === 'suspended') a.resume().catch(() => {});
  chime(a, [[0, 880], [0.25, 660]]);
}

// --- the alert: tab title and banner until the clinician has looked

const waitingPeople = () => participants.filter((p) => p.state === 'waiting');

function setTitle() {
  const n = waitingPeople().length;
  document.title = alerting && n > 0 ? t('room.title_waiting', { n }) : t('room.title');
}

function renderBanner() {
  const w = waitingPeople();
  if (!alerting || w.length === 0 || ended) return show($('waiting-banner'), false);
  const who = w.map((p) => p.name || t('room.no_name')).join(', ');
  say($('waiting-banner-text'), 'room.banner', { names: who, n: w.length });
  show($('waiting-banner'), true);
}

function raiseAlert() {
  alerting = true;
  beep();
  setTitle();
  renderBanner();
}

// The clinician looked: the title goes back (the banner stays while people wait).
function looked() {
  if (!alerting || document.hidden) return;
  alerting = false;
  setTitle();
}
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && document.hasFocus()) looked();
});
window.addEventListener('focus', looked);
document.addEventListener('pointerdown', () => {
  unlockAudio();
  looked();
});
document.addEventListener('keydown', () => {
  unlockAudio();
  looked();
});

$('waiting-show').addEventListener('click', () => {
  alerting = false;
  setTitle();
  show($('waiting-banner'), false);
  const first = $('waiting').querySelector('button');
  (first || $('waiting-title')).focus();
});
$('sound-test').addEventListener('click', () => {
  unlockAudio();
  beep();
});

// --- people

function personItem(p, actions) {
  const li = el('li', 'person');
  const nameId = `p-${p.id}`;
  const name = el('strong');
  name.id = nameId;
  if (p.name) sayRaw(name, p.name);
  else say(name, 'room.no_name');
  const tags = el('span', 'tags');
  const kind = el('span', 'tag');
  say(kind, KINDS[p.kind] || 'kind.patient');
  tags.append(kind);
  const online = el('span', p.online ? 'tag ok' : 'tag');
  say(online, p.online ? 'room.online' : 'room.offline');
  tags.append(online);
  if (p.other_device) {
    const od = el('span', 'tag bad');
    say(od, 'room.other_device');
    tags.append(od);
  }
  if (OTHER_STATES[p.state]) {
    const st = el('span', 'tag');
    say(st, OTHER_STATES[p.state]);
    tags.append(st);
  }
  li.append(name, ' ', tags);
  if (actions) {
    const row = el('div', 'actions');
    const admit = el('button', 'primary');
    admit.type = 'button';
    say(admit, 'room.admit');
    admit.setAttribute('aria-describedby', nameId);
    admit.addEventListener('click', () => decide(p, true));
    const refuse = el('button');
    refuse.type = 'button';
    say(refuse, 'room.refuse');
    refuse.setAttribute('aria-describedby', nameId);
    refuse.addEventListener('click', () => decide(p, false));
    const talk = el('button');
    talk.type = 'button';
    say(talk, 'room.private');
    talk.setAttribute('aria-describedby', nameId);
    talk.addEventListener('click', () => openPrivate(p));
    row.append(admit, refuse, talk);
    li.append(row);
  }
  return li;
}

function renderPeople() {
  const groups = { waiting: [], admitted: [], other: [] };
  for (const p of participants) (groups[p.state] || groups.other).push(p);
  const hadFocus = $('waiting').contains(document.activeElement);
  $('waiting').replaceChildren(...groups.waiting.map((p) => personItem(p, true)));
  $('inroom').replaceChildren(...groups.admitted.map((p) => personItem(p, false)));
  $('others').replaceChildren(...groups.other.map((p) => personItem(p, false)));
  show($('waiting-empty'), groups.waiting.length === 0);
  show($('inroom-empty'), groups.admitted.length === 0);
  show($('others-empty'), groups.other.length === 0);
  if (hadFocus) ($('waiting').querySelector('button') || $('waiting-title')).focus();
  setTitle();
  renderBanner();
}

function setParticipants(list) {
  participants = Array.isArray(list) ? list : [];
  for (const p of participants) if (p.pseudonym && p.name) names.set(p.pseudonym, p.name);
  renderPeople();
  chat.redraw();
}

// --- private messages with one waiting person (to check who they are)

let privateWith = null; // participant id

function privateLine(who, text) {
  const li = el('li');
  const b = el('strong');
  b.textContent = `${who}: `;
  li.append(b, text);
  $('private-log').append(li);
}

function openPrivate(p) {
  if (privateWith !== p.id) $('private-log').replaceChildren();
  privateWith = p.id;
  say($('private-title'), 'room.private_with', { name: p.name || t('room.no_name') });
  show($('private'), true);
  $('private-text').focus();
}

$('private-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('private-text').value.trim();
  if (!text || privateWith === null) return;
  conn.send({ type: 'private', participant: privateWith, text, ref: `p${++refSeq}` });
  privateLine(t('room.you'), text);
  $('private-text').value = '';
});

function onPrivate(m) {
  const p = participants.find((x) => x.id === m.participant);
  if (privateWith !== m.participant && p) openPrivate(p);
  privateLine(p && p.name ? p.name : t('room.no_name'), m.text);
}

async function decide(p, admit) {
  clear($('error'));
  if (!admit && !(await confirmDialog('room.confirm_refuse', { name: p.name || t('room.no_name') }, 'room.refuse', { danger: true })))
    return;
  conn.send({ type: admit ? 'admit' : 'refuse', participant: p.id, ref: `d${++refSeq}` });
  say($('decide-status'), admit ? 'room.admitted' : 'room.refused', { name: p.name || t('room.no_name') });
  alerting = false;
  setTitle();
}

// --- chat

const chat = chatPanel({
  log: 'chat-log', form: 'chat-form', input: 'chat-text', error: 'chat-error',
  own: (from) => me && from === `clinician:${me.user.id}`,
  senderOf(from) {
    const [kind, who] = String(from).split(':');
    if (kind === 'clinician') return { key: 'chat.clinician' };
    if (names.has(who)) return { text: names.get(who) };
    return { key: KINDS[kind] || 'chat.someone' };
  },
  send(text) {
    return conn && !ended ? conn.send({ type: 'chat', text, ref: `chat${++refSeq}` }) : false;
  },
});

// --- the consult

function renderConsult() {
  if (!consult) return;
  if (consult.label) sayRaw($('room-heading'), consult.label);
  else say($('room-heading'), 'room.heading');
  say($('room-when'), 'room.when', {
    day: formatDay(consult.starts_at), from: formatClock(consult.starts_at), to: formatClock(consult.expires_at),
  });
}

function showEnded(key = 'room.ended_text') {
  if (ended) return;
  ended = true;
  alerting = false;
  if (call) call.stop();
  if (conn) conn.close();
  show($('content'), false);
  show($('waiting-banner'), false);
  show($('conn-lost'), false);
  clear($('conn-status'));
  say($('ended-text'), key);
  show($('ended'), true);
  setTitle();
  $('ended-title').focus();
}

$('end').addEventListener('click', async () => {
  if (!(await confirmDialog('room.confirm_end', null, 'room.end', { danger: true }))) return;
  $('end').disabled = true;
  const r = await api.endConsult(consultId);
  $('end').disabled = false;
  if (r.status !== 200) return sayError($('error'), r);
  showEnded();
});

function onStatus(s, info) {
  if (ended) return;
  show($('conn-lost'), s === 'failed');
  if (s === 'reconnecting') say($('conn-status'), 'conn.restoring', { n: info.attempt, of: info.of });
  else if (s === 'connecting') say($('conn-status'), 'conn.connecting');
  else if (s === 'open') {
    say($('conn-status'), info.reconnected ? 'conn.restored' : 'conn.connected');
    if (info.reconnected) call.reconnected(); // kamer dropped our media with the old connection
  }
  else if (s === 'failed') clear($('conn-status'));
}

function start() {
  conn = connect({ greeting: () => ({ type: 'watch', consult: consultId }) });
  conn.onStatus(onStatus);
  call = callView({ conn });
  window.kamerMedia = call.media; // for tests and support: getStats summaries
  conn.on('room', (m) => {
    consult = m.consult || {};
    renderConsult();
    chat.set(m.chat || []);
    setParticipants(m.participants);
    show($('content'), true);
    if (!callStarted) {
      callStarted = true;
      call.start();
    }
  });
  conn.on('participants', (m) => setParticipants(m.participants));
  conn.on('private', onPrivate);
  conn.on('waiting_alert', raiseAlert);
  conn.on('chat', (m) => chat.add(m));
  conn.on('ended', (m) => showEnded(m.reason === 'expired' ? 'room.expired_text' : 'room.ended_text'));
  conn.on('error', (m) => {
    if (typeof m.ref === 'string' && m.ref.startsWith('media:')) return; // the call view's
    if (m.code === 'ended') return showEnded();
    if (m.code === 'not_signed_in') {
      conn.close();
      location.replace('/signin');
      return;
    }
    if (m.code === 'not_found' && !consult) {
      conn.close();
      say($('error'), 'room.not_found');
      return;
    }
    const key = WS_ERRORS[m.code];
    const target = typeof m.ref === 'string' && m.ref.startsWith('chat') ? $('chat-error') : $('error');
    if (key) say(target, key);
    else sayRaw(target, m.message || m.code || '');
  });
}

$('conn-retry').addEventListener('click', () => {
  show($('conn-lost'), false);
  conn.retry();
});

document.addEventListener('kamer:lang', () => {
  renderConsult();
  if (call) call.redraw();
  setTitle();
  chat.redraw();
});

await initPage();
me = await requireSession({ role: 'clinician' });
if (me) {
  if (!Number.isSafeInteger(consultId) || consultId <= 0) say($('error'), 'room.not_found');
  else start();
}

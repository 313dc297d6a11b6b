// join.js — the page behind an invitation link (/j/TOKEN) for a patient or a
// colleague: welcome, consent (patients), name, the camera and microphone
// check (preview, level meter, device choice, the echo test through kamer),
// waiting room, the consult (the call view of call.js and the chat) and the
// pages for a link that is not valid, an ended consult, refused consent or
// admission, and a lost connection.
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
import { callView, deviceMessage } from './call.js';
import { getLocalMedia, listDevices, mediaSupport } from './media.js';
import { $, chime, clear, confirmDialog, formatClock, formatDay, initPage, lang, say, sayRaw, show, t } from './page.js';

const HINT = 'kamer.participant';
const KINDS = { patient: 'kind.patient', colleague: 'kind.colleague' };
const SCREENS = ['s-loading', 's-welcome', 's-consent', 's-name', 's-waiting', 's-admitted', 's-end'];
const CHECKED = 'kamer.checked'; // sessionStorage: the device check was shown once
const ECHO_WAIT_MS = 15000;
const WS_ERRORS = {
  out_of_order: 'ws.out_of_order', store_failed: 'err.store_failed', rate_limited: 'ws.rate_limited',
  too_large: 'ws.too_large', invalid_message: 'ws.invalid_message', consent_outdated: 'join.consent_outdated',
  invalid_field: 'ws.invalid_message', storage_full: 'err.storage_full',
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
let call = null; // the call view (call.js)

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

function showState(state, { fresh = false, justNamed = false } = {}) {
  if (finished) return;
  if (me) me.state = state;
  if (state === 'consent' || state === 'name') {
    if (fresh) screen('s-welcome');
    else screen(state === 'consent' ? 's-consent' : 's-name');
    if (state === 'name' && !fresh) $('name').focus();
  } else if (state === 'waiting') {
    say($('waiting-status'), 'join.waiting_since', { time: formatClock(nowS()) });
    if (current !== 's-waiting') screen('s-waiting');
    if (justNamed && !sessionStorage.getItem(CHECKED)) openCheck(false);
  } else if (state === 'admitted') {
    const before = current;
    const handed = closeCheck(true);
    screen('s-admitted');
    if (before === 's-waiting') say($('announce'), 'join.admitted_live');
    if (!call.inCall) call.start(handed);
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
  closeCheck(false);
  if (call) call.stop();
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

// --- the camera and microphone check, in the waiting room (opened once by
// itself after the name is given). The stream is handed to the call when
// the person is let in.

const check = {
  open: false,
  stream: null,
  prefs: { audioId: '', videoId: '', speakerId: '' },
  soundCtx: null, // AudioContext of the test sound
  audio: null, // AudioContext
  source: null,
  analyser: null,
  meterTimer: null,
  echoing: false,
  echoTimer: null,
  echoOk: false,
  seq: 0, // a newer getUserMedia wins over a slower older one
};

function checkProblem(key) {
  if (key) say($('check-error'), key);
  else clear($('check-error'));
}

async function openCheck(focus = true) {
  if (check.open) return;
  check.open = true;
  show($('check'), true);
  show($('waiting-check'), false);
  if (focus) $('check-title').focus();
  sessionStorage.setItem(CHECKED, '1');
  clear($('check-echo-status'));
  show($('check-back'), false);
  const support = mediaSupport();
  if (!support.rtc || !support.devices) {
    checkProblem(support.devices ? 'call.unsupported' : 'device.unsupported');
    $('check-echo').disabled = true;
    show($('check-retry'), false);
    return;
  }
  if (!check.stream) await acquire();
}

async function acquire() {
  const n = ++check.seq;
  show($('check-retry'), false);
  const res = await getLocalMedia(check.prefs);
  if (n !== check.seq || !check.open) {
    if (res.stream) for (const tr of res.stream.getTracks()) tr.stop();
    return;
  }
  setCheckStream(res.stream);
  checkProblem(deviceMessage(res));
  show($('check-retry'), !res.stream || res.missing.length > 0);
  $('check-echo').disabled = !res.stream;
  await fillDevices();
}

function setCheckStream(stream) {
  if (check.stream && check.stream !== stream) for (const tr of check.stream.getTracks()) tr.stop();
  check.stream = stream;
  $('check-video').srcObject = stream && stream.getVideoTracks().length ? stream : null;
  if (stream) $('check-video').play().catch(() => {});
  meter(stream);
  if (check.echoing && stream) call.media.setLocal(stream);
}

// A live microphone level (WebAudio AnalyserNode), 0..1 on a -60..0 dB scale.
function meter(stream) {
  if (check.source) check.source.disconnect();
  check.source = null;
  clearInterval(check.meterTimer);
  check.meterTimer = null;
  $('check-level').value = 0;
  const C = window.AudioContext || window.webkitAudioContext;
  if (!stream || stream.getAudioTracks().length === 0 || !C) return;
  if (!check.audio) check.audio = new C();
  if (check.audio.state === 'suspended') check.audio.resume().catch(() => {});
  check.analyser = check.audio.createAnalyser();
  check.analyser.fftSize = 1024;
  check.source = check.audio.createMediaStreamSource(stream);
  check.source.connect(check.analyser);
  const buf = new Float32Array(check.analyser.fftSize);
  check.meterTimer = setInterval(() => {
    check.analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    const db = 20 * Math.log10(Math.sqrt(sum / buf.length) || 1e-6);
    $('check-level').value = Math.min(1, Math.max(0, (db + 60) / 60));
  }, 100);
}

function fillSelect(sel, list, chosen, labelKey) {
  const opts = list.map((d, i) => {
    const o = document.createElement('option');
    o.value = d.id;
    o.textContent = d.label || t(labelKey, { n: i + 1 });
    return o;
  });
  sel.replaceChildren(...opts);
  if (chosen && list.some((d) => d.id === chosen)) sel.value = chosen;
  sel.disabled = list.length === 0;
}

async function fillDevices() {
  let devs;
  try {
    devs = await listDevices();
  } catch {
    return;
  }
  const inUse = (kind) => {
    const tr = check.stream && (kind === 'video' ? check.stream.getVideoTracks() : check.stream.getAudioTracks())[0];
    return tr && tr.getSettings ? tr.getSettings().deviceId : '';
  };
  fillSelect($('check-cam'), devs.cams, check.prefs.videoId || inUse('video'), 'check.camera_n');
  fillSelect($('check-mic'), devs.mics, check.prefs.audioId || inUse('audio'), 'check.microphone_n');
  await fillSpeakers();
}

// The speakers (audio outputs), when the browser can choose one (setSinkId).
async function fillSpeakers() {
  const md = navigator.mediaDevices;
  const canChoose = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
  let outs = [];
  if (canChoose && md && md.enumerateDevices) {
    try {
      outs = (await md.enumerateDevices()).filter((d) => d.kind === 'audiooutput' && d.deviceId)
        .map((d) => ({ id: d.deviceId, label: d.label }));
    } catch { /* none to choose */ }
  }
  fillSelect($('check-speaker'), outs, check.prefs.speakerId, 'check.speaker_n');
  show($('check-speaker-row'), outs.length > 1);
}

// A short two-note tone through the chosen speaker (Web Audio; the
// AudioContext's setSinkId where the browser has it).
async function playTestSound() {
  const C = window.AudioContext || window.webkitAudioContext;
  const status = $('check-sound-status');
  if (!C) return say(status, 'check.sound_failed', { reason: 'Web Audio' });
  $('check-sound').disabled = true;
  try {
    if (!check.soundCtx) check.soundCtx = new C();
    const a = check.soundCtx;
    const sink = check.prefs.speakerId;
    if (typeof a.setSinkId === 'function' && (a.sinkId || '') !== (sink === 'default' ? '' : sink))
      await a.setSinkId(sink === 'default' ? '' : sink);
    if (a.state === 'suspended') await a.resume();
    say(status, 'check.sound_playing');
    const last = chime(a, [[0, 660], [0.35, 880]], { peak: 0.4, len: 0.3 });
    await new Promise((res) => { last.onended = res; });
    say(status, 'check.sound_played');
  } catch (err) {
    say(status, 'check.sound_failed', { reason: (err && err.name) || String(err) });
  } finally {
    $('check-sound').disabled = false;
  }
}
$('check-sound').addEventListener('click', playTestSound);
$('check-speaker').addEventListener('change', () => {
  check.prefs.speakerId = $('check-speaker').value;
});

$('check-cam').addEventListener('change', () => {
  check.prefs.videoId = $('check-cam').value;
  acquire();
});
$('check-mic').addEventListener('change', () => {
  check.prefs.audioId = $('check-mic').value;
  acquire();
});
$('check-retry').addEventListener('click', acquire);

// The echo test: our media to kamer and back; it works once frames of the
// returned video decode (and audio packets come back).
async function runEcho() {
  if (!check.stream) return;
  stopEcho(null);
  $('check-echo-status').classList.remove('ok');
  check.echoing = true;
  check.echoOk = false;
  $('check-echo').disabled = true;
  say($('check-echo-status'), 'check.testing');
  call.media.setLocal(check.stream);
  const back = await call.media.echo();
  if (!check.echoing) return;
  $('check-back-video').srcObject = back;
  $('check-back-video').play().catch(() => {});
  show($('check-back'), true);
  const t0 = Date.now();
  const wantVideo = check.stream.getVideoTracks().length > 0;
  const wantAudio = check.stream.getAudioTracks().length > 0;
  check.echoTimer = setInterval(async () => {
    const st = await call.media.stats('echo').catch(() => null);
    if (!check.echoing || check.echoOk || !st) return;
    const video = st.inbound.some((i) => i.kind === 'video' && i.framesDecoded > 0);
    const audio = st.inbound.some((i) => i.kind === 'audio' && i.packetsReceived > 0);
    if ((video || !wantVideo) && (audio || !wantAudio)) {
      check.echoOk = true;
      clearInterval(check.echoTimer);
      say($('check-echo-status'), wantVideo && wantAudio ? 'check.ok' : wantVideo ? 'check.ok_video' : 'check.ok_audio');
      $('check-echo-status').classList.add('ok');
      $('check-echo').disabled = false;
    } else if (Date.now() - t0 > ECHO_WAIT_MS) {
      stopEcho('check.timeout');
    }
  }, 500);
}
$('check-echo').addEventListener('click', runEcho);

// Ends the echo test; key (if any) is what to tell the person.
function stopEcho(key) {
  clearInterval(check.echoTimer);
  check.echoTimer = null;
  if (check.echoing) call.media.close('echo');
  check.echoing = false;
  $('check-back-video').srcObject = null;
  show($('check-back'), false);
  $('check-echo').disabled = !check.stream;
  if (key) {
    $('check-echo-status').classList.remove('ok');
    say($('check-echo-status'), key);
  }
}

// The call view passes on what happens to the echo connection.
function onEcho(kind, e) {
  if (!check.echoing) return;
  if (kind === 'state' && e.state === 'closed') {
    stopEcho(check.echoOk ? 'check.ended' : null);
    if (!check.echoOk) say($('check-echo-status'), 'check.failed', { reason: e.reason || '' });
  } else if (kind === 'state' && e.state === 'failed') {
    stopEcho(null);
    say($('check-echo-status'), 'check.failed', { reason: e.reason || '' });
  } else if (kind === 'error') {
    stopEcho(null);
    say($('check-echo-status'), e.code === 'media_unavailable' ? 'call.media_unavailable' : 'check.failed', { reason: e.message || e.code });
  }
}

// Leaves the check. handover: return the stream (for the call) instead of
// stopping it.
function closeCheck(handover) {
  check.seq += 1;
  check.open = false;
  show($('check'), false);
  show($('waiting-check'), true);
  stopEcho(null);
  meter(null);
  const stream = check.stream;
  check.stream = null;
  $('check-video').srcObject = null;
  if (stream && !handover) for (const tr of stream.getTracks()) tr.stop();
  return handover ? stream : null;
}

$('check-done').addEventListener('click', () => {
  closeCheck(false);
  $('waiting-check').focus();
});
$('waiting-check').addEventListener('click', () => openCheck(true));

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
  call.stop(); // kamer stops our media until we consent again
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
  if (typeof m.ref === 'string' && m.ref.startsWith('media:')) return; // the call view's
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
    if (st.reconnected) {
      // kamer dropped our media with the old connection.
      if (check.echoing) stopEcho('check.interrupted');
      call.reconnected();
    }
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
  if (call) call.redraw();
  if (check.open) fillDevices();
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
  call = callView({ conn, devices: () => ({ ...check.prefs }), onEcho });
  window.kamerMedia = call.media; // for tests and support: getStats summaries
  conn.on('state', (m) => {
    if (m.state === 'admitted' && Array.isArray(m.chat)) chat.set(m.chat);
    showState(m.state, { justNamed: m.state === 'waiting' });
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

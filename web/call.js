// call.js — the call view shared by the room (clinician) and join
// (participant) pages: remote people as large tiles (name, role, a small
// connection-quality line from getStats), our own video small and muted,
// and the controls: join/leave the call, microphone, camera. The WebRTC
// part is media.js; this file only renders and reacts. The page's HTML
// holds the elements (ids below, the same in both pages).
import { CallMedia, getLocalMedia, mediaSupport } from './media.js';
import { $, clear, say, sayRaw, show, t } from './page.js';

const ROLES = { clinician: 'chat.clinician', patient: 'kind.patient', colleague: 'kind.colleague' };
const CIPHERS = { SRTP_AEAD_AES_256_GCM: 'AES-256-GCM', SRTP_AEAD_AES_128_GCM: 'AES-128-GCM' };
const REASONS = { time_limit: 'call.reason_time_limit' };
const DEVICE = {
  blocked: 'device.blocked', not_found: 'device.not_found', in_use: 'device.in_use',
  unsupported: 'device.unsupported', other: 'device.other',
};
const QUALITY_MS = 2000;

// The text for a device problem (getLocalMedia's result), or null.
export function deviceMessage(res) {
  if (!res.stream) return DEVICE[res.problem] || DEVICE.other;
  if (res.missing.includes('video')) return 'device.no_video';
  if (res.missing.includes('audio')) return 'device.no_audio';
  return null;
}

const reasonText = (r) => (REASONS[r] ? t(REASONS[r]) : r || t('call.reason_unknown'));

// conn: the page's consult connection. devices(): {audioId, videoId} to
// use. onEcho('state' | 'error', event): what happens to the echo
// connection (the device check's business). Returns {start(stream?),
// leave, stop, reconnected, media, inCall, redraw}.
export function callView({ conn, devices = () => ({}), onEcho = () => {} }) {
  let local = null; // our MediaStream (ours to stop)
  let inCall = false;
  let starting = false;
  let mic = true, cam = true;
  let timer = null;
  let lastPeople = [];
  let soundBlocked = false;
  let deviceTrouble = false; // in the call without (all of) camera and microphone
  let generation = 0; // a start() that waits for the camera is void after end()
  const up = { pub: false, sub: false }; // connected now
  const tiles = new Map(); // stream id -> {li, video, label, quality}

  const media = new CallMedia(conn, { onPeople, onState, onError });

  function status(key, vars) {
    say($('call-status'), key, vars);
  }
  function banner(key, vars) {
    if (!key) return show($('call-banner'), false);
    say($('call-banner-text'), key, vars);
    show($('call-banner'), true);
  }

  function renderControls() {
    show($('call-start'), !inCall);
    $('call-start').disabled = starting;
    show($('call-leave'), inCall);
    const hasAudio = !!(local && local.getAudioTracks().length);
    const hasVideo = !!(local && local.getVideoTracks().length);
    show($('call-mic'), inCall && hasAudio);
    show($('call-cam'), inCall && hasVideo);
    say($('call-mic'), mic ? 'call.mic_off' : 'call.mic_on');
    say($('call-cam'), cam ? 'call.cam_off' : 'call.cam_on');
    $('call-mic').classList.toggle('off', !mic);
    $('call-cam').classList.toggle('off', !cam);
    show($('self'), inCall && hasVideo);
    $('self').classList.toggle('cam-off', !cam);
    show($('call-sound'), inCall && soundBlocked);
    show($('call-devices'), inCall && deviceTrouble);
  }

  // --- remote people

  function tileLabel(p) {
    const role = t(ROLES[p.info.role] || 'chat.someone');
    return p.info.name ? t('call.tile', { name: p.info.name, role }) : role;
  }

  function play(video) {
    const p = video.play();
    if (!p) return;
    p.catch((err) => {
      if (err && err.name === 'NotAllowedError' && !video.muted) {
        // Sound needs a click first: play muted now, offer a button.
        video.muted = true;
        soundBlocked = true;
        renderControls();
        video.play().catch(() => {});
      }
    });
  }

  function newTile(p) {
    const li = document.createElement('li');
    li.className = 'tile';
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = soundBlocked;
    const { speakerId } = devices(); // the speaker chosen in the device check
    if (speakerId && typeof video.setSinkId === 'function') video.setSinkId(speakerId).catch(() => {});
    const cap = document.createElement('div');
    cap.className = 'tile-caption';
    const label = document.createElement('strong');
    const quality = document.createElement('span');
    quality.className = 'quality';
    say(quality, 'call.quality_none');
    cap.append(label, ' ', quality);
    li.append(video, cap);
    return { li, video, label, quality };
  }

  function onPeople(list) {
    lastPeople = list;
    for (const [id, tile] of tiles) {
      if (list.some((p) => p.id === id)) continue;
      tile.video.srcObject = null;
      tile.li.remove();
      tiles.delete(id);
    }
    for (const p of list) {
      let tile = tiles.get(p.id);
      if (!tile) {
        tile = newTile(p);
        tiles.set(p.id, tile);
        $('remote-tiles').append(tile.li);
      }
      sayRaw(tile.label, tileLabel(p));
      tile.video.setAttribute('aria-label', tileLabel(p));
      tile.li.classList.toggle('audio-only', p.stream.getVideoTracks().length === 0);
      if (tile.video.srcObject !== p.stream) {
        tile.video.srcObject = p.stream;
        play(tile.video);
      }
    }
    $('remote-tiles').dataset.count = String(list.length);
    show($('remote-empty'), list.length === 0);
  }

  async function showQuality() {
    if (!inCall) return;
    let q;
    try {
      q = await media.quality();
    } catch {
      return;
    }
    for (const [id, tile] of tiles) {
      const v = q.get(id);
      tile.quality.className = 'quality';
      if (!v || v.kbps === null) {
        say(tile.quality, 'call.quality_none');
        continue;
      }
      const rtt = v.rtt === null ? '–' : Math.round(v.rtt);
      const loss = v.loss === null ? '–' : (v.loss * 100).toFixed(1);
      say(tile.quality, 'call.quality', { rtt, loss, kbps: Math.round(v.kbps) });
      const poor = (v.loss !== null && v.loss > 0.05) || (v.rtt !== null && v.rtt > 400);
      const fair = (v.loss !== null && v.loss > 0.01) || (v.rtt !== null && v.rtt > 200);
      tile.quality.classList.add(poor ? 'poor' : fair ? 'fair' : 'good');
      tile.quality.title = t(poor ? 'call.quality_poor' : fair ? 'call.quality_fair' : 'call.quality_good');
    }
  }

  // --- media states

  function onState(s) {
    if (s.conn === 'echo') return onEcho('state', s);
    if (!inCall) return;
    const cipher = CIPHERS[s.srtp] || s.srtp || '';
    if (s.state !== 'connected') up[s.conn] = false;
    if (s.state === 'connecting') status('call.connecting');
    else if (s.state === 'interrupted') banner('call.interrupted');
    else if (s.state === 'connected') {
      banner(null);
      up[s.conn] = true;
      status(up.pub && up.sub ? 'call.connected_both' : s.conn === 'pub' ? 'call.connected' : 'call.sub_connected', { cipher });
    } else if (s.state === 'failed') {
      banner(s.retrying ? 'call.failed_retry' : 'call.failed', { reason: reasonText(s.reason) });
      if (!s.retrying && !media.active.pub && !media.active.sub) end(false);
    } else if (s.state === 'closed') {
      banner('call.closed', { reason: reasonText(s.reason) });
      if (!media.active.pub && !media.active.sub) end(false);
    }
  }

  function onError(e) {
    if (e.conn === 'echo') return onEcho('error', e);
    if (!inCall) return;
    if (e.code === 'media_unavailable') banner('call.media_unavailable');
    else if (e.code === 'sdp_invalid') banner('call.sdp_invalid', { reason: e.message });
    else if (e.code === 'out_of_order') banner('call.not_now');
    else banner('call.refused', { reason: e.message || e.code });
    if (!media.active.pub && !media.active.sub) end(false);
  }

  // --- start and leave

  // Joins the call: publishes given (a MediaStream the page already has, now
  // ours) or a new one from the camera and microphone, and subscribes.
  async function start(given) {
    const handed = given instanceof MediaStream ? given : null;
    if (inCall || starting) {
      if (handed) for (const tr of handed.getTracks()) tr.stop();
      return;
    }
    banner(null);
    clear($('call-device'));
    if (!mediaSupport().rtc) {
      if (handed) for (const tr of handed.getTracks()) tr.stop();
      say($('call-device'), 'call.unsupported');
      return;
    }
    const gen = ++generation;
    starting = true;
    renderControls();
    status('call.starting');
    local = handed && handed.getTracks().some((x) => x.readyState === 'live') ? handed : null;
    if (!local) {
      if (handed) for (const tr of handed.getTracks()) tr.stop();
      const res = await getLocalMedia(devices());
      if (gen !== generation) {
        // stop() came while the camera started.
        if (res.stream) for (const tr of res.stream.getTracks()) tr.stop();
        return;
      }
      local = res.stream;
      const key = deviceMessage(res);
      deviceTrouble = !!key;
      if (key) say($('call-device'), key);
    }
    starting = false;
    inCall = true;
    if (local) {
      sendLocal();
    } else {
      status('call.receive_only');
    }
    media.subscribe();
    renderControls();
    clearInterval(timer);
    timer = setInterval(showQuality, QUALITY_MS);
  }

  function sendLocal() {
    media.setMic(mic);
    media.setCamera(cam);
    media.setLocal(local);
    $('self-video').srcObject = local;
    $('self-video').play().catch(() => {});
    media.publish();
  }

  // In the call without (all of) camera and microphone: ask again and, if
  // more comes now, publish that instead.
  async function retryDevices() {
    const gen = generation;
    $('call-devices').disabled = true;
    const res = await getLocalMedia(devices());
    $('call-devices').disabled = false;
    if (gen !== generation || !inCall) {
      if (res.stream) for (const tr of res.stream.getTracks()) tr.stop();
      return;
    }
    const key = deviceMessage(res);
    const better = res.stream && (!local || res.stream.getTracks().length > local.getTracks().length);
    if (better) {
      if (local) for (const tr of local.getTracks()) tr.stop();
      local = res.stream;
      sendLocal();
    } else if (res.stream) {
      for (const tr of res.stream.getTracks()) tr.stop();
    }
    deviceTrouble = !!key;
    if (key) say($('call-device'), key);
    else clear($('call-device'));
    renderControls();
  }

  // Out of the call: tell = tell kamer (the person pressed Leave).
  function end(tell) {
    generation += 1;
    up.pub = up.sub = false;
    deviceTrouble = false;
    clear($('call-device'));
    if (tell) media.close();
    else media.reset();
    inCall = false;
    starting = false;
    clearInterval(timer);
    timer = null;
    if (local) for (const tr of local.getTracks()) tr.stop();
    local = null;
    $('self-video').srcObject = null;
    onPeople([]);
    renderControls();
  }

  $('call-start').addEventListener('click', () => start());
  $('call-devices').addEventListener('click', retryDevices);
  $('call-leave').addEventListener('click', () => {
    end(true);
    status('call.left');
    $('call-start').focus();
  });
  $('call-mic').addEventListener('click', () => {
    mic = !mic;
    media.setMic(mic);
    renderControls();
    status(mic ? 'call.mic_is_on' : 'call.mic_is_off');
  });
  $('call-cam').addEventListener('click', () => {
    cam = !cam;
    media.setCamera(cam);
    renderControls();
    status(cam ? 'call.cam_is_on' : 'call.cam_is_off');
  });
  $('call-sound').addEventListener('click', () => {
    soundBlocked = false;
    for (const tile of tiles.values()) {
      tile.video.muted = false;
      tile.video.play().catch(() => {});
    }
    renderControls();
  });
  renderControls();
  show($('remote-empty'), true);

  return {
    media,
    start,
    get inCall() {
      return inCall || starting;
    },
    // The person leaves the call (kamer is told).
    leave() {
      if (inCall) end(true);
    },
    // The consult is over or media is not allowed now: stop everything.
    stop() {
      end(false);
      clear($('call-status'));
      banner(null);
    },
    // The WSS connection came back: kamer dropped our media with the old
    // one, so start again on the new one.
    reconnected() {
      if (!inCall) return;
      up.pub = up.sub = false;
      media.reset();
      if (local) media.publish();
      media.subscribe();
    },
    // Re-labels after a language switch.
    redraw() {
      onPeople(lastPeople);
      renderControls();
    },
  };
}

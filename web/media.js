// media.js — kamer's WebRTC client for the room and join pages: the media
// part of the consult protocol (docs/protocol.md, "Media"). No DOM here
// besides what WebRTC itself needs; the call view is call.js.
//
// Three peer connections, named as in the protocol:
//   pub   we offer our own microphone and camera (sendonly), kamer answers
//   sub   kamer offers everyone else (renegotiated as people come and go), we
//         answer each version on ONE long-lived connection
//   echo  we offer our own media sendrecv, kamer sends it back (device check)
// Remote ICE candidates that arrive before the remote description are kept
// and added after it. A pub or sub connection that fails is tried once more,
// fresh, after 2 s.
//
//   const media = new CallMedia(conn, { onPeople, onState, onError });
//   media.setLocal(await getLocalMedia({}).stream);
//   await media.publish(); media.subscribe();
//   media.setMic(false); media.close();
//
// Threads: the page's one (event callbacks only).

export const CONNS = Object.freeze(['pub', 'sub', 'echo']);
// A failed pub or sub connection is made again, fresh, after these delays
// (ms); a connection the browser reports "disconnected" (no answers to its
// consent checks) is given DISCONNECT_GRACE_MS to come back by itself.
const RETRY_MS = Object.freeze([2000, 4000, 8000]);
const DISCONNECT_GRACE_MS = 8000;
// A publish connection still disconnected after this long is given an ICE
// restart (new ICE credentials, same DTLS and tracks: kamer restarts its
// side too); a subscribe connection (kamer offers it) waits for the grace.
const ICE_RESTART_AFTER_MS = 2000;

// The camera goes to kamer in simulcast layers, lowest first, so that kamer
// can give each viewer the one its bandwidth carries (docs/media.md): half
// and full size from a camera at least 640 wide, and a quarter size too
// from one at least 960 wide (below that Chrome sends only two layers and
// leaves out the last one it was given). null: one stream.
function simulcastLayers(t) {
  if (t.kind !== 'video' || typeof t.getSettings !== 'function') return null;
  const w = t.getSettings().width;
  if (typeof w !== 'number' || w < 640) return null;
  const layers = [{ rid: 'h', scaleResolutionDownBy: 2 }, { rid: 'f', scaleResolutionDownBy: 1 }];
  return w >= 960 ? [{ rid: 'q', scaleResolutionDownBy: 4 }, ...layers] : layers;
}

// What this browser can do: RTCPeerConnection and getUserMedia.
export function mediaSupport() {
  const md = globalThis.navigator && navigator.mediaDevices;
  return {
    rtc: typeof globalThis.RTCPeerConnection === 'function',
    devices: !!(md && typeof md.getUserMedia === 'function'),
  };
}

// getUserMedia's error name -> our reason: blocked (the person or the
// browser said no), not_found (no such device), in_use (another program
// holds it), unsupported, other.
export function deviceProblem(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') return 'blocked';
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') return 'not_found';
  if (name === 'NotReadableError' || name === 'AbortError' || name === 'TrackStartError') return 'in_use';
  if (name === 'TypeError') return 'unsupported';
  return 'other';
}

function constraints({ audioId, videoId }, audio, video) {
  return {
    audio: audio ? { deviceId: audioId ? { exact: audioId } : undefined, echoCancellation: true, noiseSuppression: true, autoGainControl: true } : false,
    video: video ? { deviceId: videoId ? { exact: videoId } : undefined, width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 30 } } : false,
  };
}

// Camera and microphone. Resolves {stream, problem, missing}: stream is
// null only when neither could be had; problem is the reason for what is
// missing ('blocked' stops at once: asking again would not help); missing
// lists 'audio' and/or 'video'.
export async function getLocalMedia(opts = {}) {
  if (!mediaSupport().devices) return { stream: null, problem: 'unsupported', missing: ['audio', 'video'] };
  const gum = (a, v) => navigator.mediaDevices.getUserMedia(constraints(opts, a, v));
  try {
    return { stream: await gum(true, true), problem: null, missing: [] };
  } catch (err) {
    const problem = deviceProblem(err);
    if (problem === 'blocked' || problem === 'unsupported') return { stream: null, problem, missing: ['audio', 'video'] };
    for (const [a, v, miss] of [[true, false, 'video'], [false, true, 'audio']]) {
      try {
        return { stream: await gum(a, v), problem, missing: [miss] };
      } catch { /* try the other one */ }
    }
    return { stream: null, problem, missing: ['audio', 'video'] };
  }
}

// The cameras and microphones the browser lists (labels only after
// permission was given): {cams: [{id, label}], mics: [...]}.
export async function listDevices() {
  const out = { cams: [], mics: [] };
  if (!mediaSupport().devices || !navigator.mediaDevices.enumerateDevices) return out;
  for (const d of await navigator.mediaDevices.enumerateDevices()) {
    if (!d.deviceId) continue;
    if (d.kind === 'videoinput') out.cams.push({ id: d.deviceId, label: d.label });
    if (d.kind === 'audioinput') out.mics.push({ id: d.deviceId, label: d.label });
  }
  return out;
}

const pick = (s, names) => Object.fromEntries(names.filter((n) => s[n] !== undefined).map((n) => [n, s[n]]));

// A plain summary of one RTCStatsReport (for the quality indicator and for
// tests): inbound and outbound RTP streams, the DTLS transport (srtpCipher,
// dtlsCipher) and the selected candidate pair.
export function summarize(report) {
  const all = new Map();
  report.forEach((s) => all.set(s.id, s));
  const out = { inbound: [], outbound: [], transport: null, pair: null, local: null, remote: null };
  for (const s of all.values()) {
    if (s.type === 'inbound-rtp') {
      const codec = all.get(s.codecId);
      out.inbound.push({
        ...pick(s, ['kind', 'mid', 'ssrc', 'trackIdentifier', 'packetsReceived', 'packetsLost', 'bytesReceived', 'jitter',
          'framesDecoded', 'framesReceived', 'frameWidth', 'frameHeight', 'framesPerSecond', 'totalSamplesReceived',
          'audioLevel', 'totalAudioEnergy', 'concealedSamples', 'nackCount', 'pliCount']),
        codec: codec ? codec.mimeType : undefined,
      });
    } else if (s.type === 'outbound-rtp') {
      const codec = all.get(s.codecId);
      out.outbound.push({
        ...pick(s, ['kind', 'mid', 'ssrc', 'packetsSent', 'bytesSent', 'framesEncoded', 'frameWidth', 'frameHeight',
          'retransmittedPacketsSent', 'nackCount', 'pliCount', 'targetBitrate']),
        codec: codec ? codec.mimeType : undefined,
      });
    } else if (s.type === 'transport') {
      out.transport = pick(s, ['dtlsState', 'iceState', 'dtlsRole', 'tlsVersion', 'dtlsCipher', 'srtpCipher',
        'selectedCandidatePairId', 'bytesSent', 'bytesReceived']);
    }
  }
  const pair = out.transport && all.get(out.transport.selectedCandidatePairId);
  if (pair) {
    out.pair = pick(pair, ['state', 'currentRoundTripTime', 'availableOutgoingBitrate', 'bytesSent', 'bytesReceived']);
    const l = all.get(pair.localCandidateId), r = all.get(pair.remoteCandidateId);
    const cand = (c) => c && pick(c, ['address', 'port', 'protocol', 'candidateType']);
    out.local = cand(l) || null;
    out.remote = cand(r) || null;
  }
  return out;
}

// The stream id ("k12") of every section of an SDP, by mid, from a=msid.
export function msidByMid(sdp) {
  const out = new Map();
  for (const section of String(sdp).split(/\r?\nm=/).slice(1)) {
    const mid = section.match(/\r?\na=mid:(\S+)/);
    const msid = section.match(/\r?\na=msid:(\S+)/);
    if (mid && msid && msid[1] !== '-') out.set(mid[1], msid[1]);
  }
  return out;
}

export class CallMedia {
  // conn: the page's consult connection (consult-protocol.js): on(), send().
  // onPeople([{id, info: {participant, role, name}, stream}]): who we receive.
  // onState({conn, state, srtp, reason, retrying}): from media.state, and
  //   'connecting' when a connection starts; retrying says whether a
  //   failed pub or sub is tried again (up to three times, fresh);
  //   'interrupted' while the browser reports it disconnected, 'connected'
  //   again when it comes back.
  // onError({conn, code, message}): the server refused (sdp_invalid,
  //   media_unavailable, out_of_order) or the browser failed.
  // PeerConnection, Stream and timers are for tests.
  constructor(conn, {
    onPeople = () => {}, onState = () => {}, onError = () => {}, rtcConfig = {},
    PeerConnection = globalThis.RTCPeerConnection, Stream = globalThis.MediaStream, timers = globalThis,
  } = {}) {
    this.conn = conn;
    this.impl = { PeerConnection, Stream, timers };
    this.cb = { onPeople, onState, onError };
    this.rtcConfig = { bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers: [], ...rtcConfig };
    this.local = null; // MediaStream: our microphone and camera
    this.recs = { pub: null, sub: null, echo: null }; // conn -> record (see open())
    this.awaiting = { pub: [], echo: [] }; // records whose offer waits for kamer's answer, in order
    this.retried = { pub: 0, sub: 0 }; // retries since the last connected
    this.retryTimers = { pub: null, sub: null };
    this.wanted = { pub: false, sub: false }; // the page asked for them (a retry only then)
    this.streams = {}; // kamer's "streams" map of the last offer: k<N> -> who
    this.people = new Map(); // stream id -> {id, info, stream}
    this.midStream = new Map(); // sub mid -> stream id (from ontrack)
    this.latestOffer = null;
    this.offerBusy = false;
    this.mic = true;
    this.cam = true;
    this.seq = 0;
    this.prevQuality = new Map(); // trackIdentifier -> last sample, for rates
    this.off = [
      conn.on('media.answer', (m) => this.onAnswer(m)),
      conn.on('media.offer', (m) => this.onOffer(m)),
      conn.on('media.candidate', (m) => this.onCandidate(m)),
      conn.on('media.state', (m) => this.onState(m)),
      conn.on('error', (m) => this.onServerError(m)),
    ];
  }

  // --- local media

  // Uses stream for our microphone and camera (replacing tracks in live
  // connections). The caller keeps ownership: stopping it is theirs.
  setLocal(stream) {
    this.local = stream;
    this.applyEnabled();
    for (const kind of ['pub', 'echo']) {
      const rec = this.recs[kind];
      if (!rec) continue;
      for (const t of rec.pc.getTransceivers()) {
        const sk = t.sender.track ? t.sender.track.kind : t.receiver.track && t.receiver.track.kind;
        const next = stream ? stream.getTracks().find((x) => x.kind === sk) : null;
        if (next && t.sender.track !== next) t.sender.replaceTrack(next).catch(() => {});
      }
    }
  }

  setMic(on) {
    this.mic = !!on;
    this.applyEnabled();
  }

  setCamera(on) {
    this.cam = !!on;
    this.applyEnabled();
  }

  applyEnabled() {
    if (!this.local) return;
    for (const t of this.local.getAudioTracks()) t.enabled = this.mic;
    for (const t of this.local.getVideoTracks()) t.enabled = this.cam;
  }

  // --- connections

  ref(kind, rec) {
    return `media:${kind}:${rec ? rec.n : ++this.seq}`;
  }

  open(kind) {
    this.drop(kind, false);
    const pc = new this.impl.PeerConnection(this.rtcConfig);
    const rec = {
      kind, pc, n: ++this.seq, pending: [], remoteSet: false, closed: false, connected: false,
      signalled: false, ours: [], // our candidates wait until our offer or answer has gone
    };
    this.recs[kind] = rec;
    pc.onicecandidate = (ev) => {
      if (rec.closed) return;
      const c = ev.candidate;
      if (c && !c.candidate) return; // an end-of-generation marker some browsers send
      const m = { type: 'media.candidate', conn: kind, candidate: c ? c.candidate : '' };
      if (rec.signalled) this.conn.send(m);
      else rec.ours.push(m);
    };
    pc.onconnectionstatechange = () => {
      if (rec.closed || this.recs[kind] !== rec) return;
      const st = pc.connectionState;
      if (st === 'connected') {
        rec.connected = true;
        if (rec.interrupted) {
          rec.interrupted = false;
          this.clearGrace(rec);
          this.cb.onState({ conn: kind, state: 'connected', srtp: rec.srtp });
        }
      } else if (st === 'disconnected' && rec.connected && !rec.interrupted) {
        rec.interrupted = true;
        this.cb.onState({ conn: kind, state: 'interrupted' });
        if (kind === 'pub') {
          rec.restartTimer = this.impl.timers.setTimeout(() => {
            rec.restartTimer = null;
            if (!rec.closed && rec.interrupted) this.restartIce(kind, rec);
          }, ICE_RESTART_AFTER_MS);
        }
        rec.grace = this.impl.timers.setTimeout(() => {
          rec.grace = null;
          if (!rec.closed && rec.interrupted) this.failed(kind, rec, 'browser: connection lost');
        }, DISCONNECT_GRACE_MS);
      } else if (st === 'failed') {
        this.failed(kind, rec, 'browser: connection failed');
      }
    };
    return rec;
  }

  // Our offer or answer for rec has gone to kamer: our candidates may follow.
  signalled(rec) {
    rec.signalled = true;
    for (const m of rec.ours) this.conn.send(m);
    rec.ours = [];
  }

  // Closes our side of kind; tells kamer when tell is true.
  clearGrace(rec) {
    if (rec.grace) this.impl.timers.clearTimeout(rec.grace);
    if (rec.restartTimer) this.impl.timers.clearTimeout(rec.restartTimer);
    rec.grace = rec.restartTimer = null;
  }

  // ICE restart of a publish connection: a new offer with new ICE
  // credentials on the same peer connection; kamer answers with new ones of
  // its own and both sides check pairs again, keeping DTLS, SRTP and tracks.
  // (Also for the page's tests: restartIce('pub').)
  async restartIce(kind, rec = this.recs[kind]) {
    if (kind !== 'pub' || !rec || rec.closed || !rec.remoteSet) return false;
    rec.signalled = false; // our new candidates wait for the new offer
    rec.remoteSet = false; // kamer's new candidates wait for its answer
    rec.restarts = (rec.restarts || 0) + 1;
    try {
      const offer = await rec.pc.createOffer({ iceRestart: true });
      await rec.pc.setLocalDescription(offer);
    } catch (err) {
      this.failed(kind, rec, `browser: ICE restart failed (${err && err.message || err})`);
      return false;
    }
    if (rec.closed) return false;
    this.awaiting[kind].push(rec);
    this.conn.send({ type: 'media.publish', sdp: rec.pc.localDescription.sdp, ref: this.ref(kind, rec) });
    this.signalled(rec);
    return true;
  }

  drop(kind, tell) {
    const rec = this.recs[kind];
    if (!rec) return;
    rec.closed = true;
    this.clearGrace(rec);
    this.recs[kind] = null;
    try { rec.pc.close(); } catch { /* closed already */ }
    if (tell) this.conn.send({ type: 'media.close', conn: kind });
    if (kind === 'sub') {
      this.midStream.clear();
      this.latestOffer = null;
      this.setPeople(new Map());
    }
  }

  async offerTo(kind, rec, direction) {
    const tracks = this.local ? this.local.getTracks() : [];
    if (tracks.length === 0) throw Object.assign(new Error('no camera or microphone'), { name: 'NoTracks' });
    for (const t of tracks) {
      const init = { direction, streams: [this.local] };
      const layers = kind === 'pub' ? simulcastLayers(t) : null;
      if (layers) init.sendEncodings = layers;
      rec.pc.addTransceiver(t, init);
    }
    const offer = await rec.pc.createOffer();
    await rec.pc.setLocalDescription(offer);
    if (rec.closed) return;
    this.awaiting[kind].push(rec);
    this.cb.onState({ conn: kind, state: 'connecting' });
    this.conn.send({ type: kind === 'pub' ? 'media.publish' : 'media.echo', sdp: rec.pc.localDescription.sdp, ref: this.ref(kind, rec) });
    this.signalled(rec);
  }

  // Sends our microphone and camera to kamer (a new pub connection).
  async publish() {
    this.wanted.pub = true;
    const rec = this.open('pub');
    try {
      await this.offerTo('pub', rec, 'sendonly');
    } catch (err) {
      this.localFailure('pub', rec, err);
    }
  }

  // Asks kamer for everyone else's media; offers come as people publish.
  subscribe() {
    this.wanted.sub = true;
    this.conn.send({ type: 'media.subscribe', ref: this.ref('sub') });
  }

  // Starts the echo check; resolves the MediaStream that comes back (its
  // tracks arrive as kamer sends them).
  async echo() {
    const rec = this.open('echo');
    rec.back = new this.impl.Stream();
    rec.pc.ontrack = (ev) => rec.back.addTrack(ev.track);
    try {
      await this.offerTo('echo', rec, 'sendrecv');
    } catch (err) {
      this.localFailure('echo', rec, err);
    }
    return rec.back;
  }

  localFailure(kind, rec, err) {
    if (this.recs[kind] === rec) this.drop(kind, false);
    this.cb.onError({ conn: kind, code: err && err.name === 'NoTracks' ? 'no_tracks' : 'browser', message: String(err && err.message || err) });
  }

  // Closes one connection (kind) or, without kind, all of them; tells kamer.
  // (Records still waiting for kamer's answer stay queued: that answer is
  // still coming and must not be taken for a newer offer's.)
  close(kind) {
    for (const k of kind ? [kind] : CONNS) {
      const tell = !!this.recs[k] || (k === 'sub' && this.wanted.sub);
      if (k !== 'echo') {
        this.wanted[k] = false;
        this.retried[k] = 0;
        this.impl.timers.clearTimeout(this.retryTimers[k]);
        this.retryTimers[k] = null;
      }
      this.drop(k, false);
      if (tell) this.conn.send({ type: 'media.close', conn: k });
    }
  }

  // Forgets every connection without telling kamer (the WSS connection is
  // gone, and kamer dropped them with it); the page may start again.
  reset() {
    this.wanted = { pub: false, sub: false };
    for (const k of CONNS) {
      if (this.retryTimers[k]) this.impl.timers.clearTimeout(this.retryTimers[k]);
      this.drop(k, false);
    }
    this.awaiting = { pub: [], echo: [] };
    this.retried = { pub: 0, sub: 0 };
  }

  // Stops listening to the connection for good.
  dispose() {
    this.reset();
    for (const off of this.off) off();
  }

  get active() {
    return { pub: !!this.recs.pub, sub: !!this.recs.sub || this.wanted.sub, echo: !!this.recs.echo };
  }

  // --- kamer's messages

  async onAnswer(m) {
    const q = this.awaiting[m.conn];
    if (!q || typeof m.sdp !== 'string') return;
    const rec = q.shift();
    if (!rec || rec.closed) return;
    try {
      await rec.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
      this.remoteReady(rec);
    } catch (err) {
      this.localFailure(m.conn, rec, err);
    }
  }

  remoteReady(rec) {
    rec.remoteSet = true;
    const pending = rec.pending;
    rec.pending = [];
    for (const c of pending) this.addCandidate(rec, c);
  }

  addCandidate(rec, cand) {
    if (rec.closed) return;
    // "" is the end of kamer's candidates.
    const p = cand ? rec.pc.addIceCandidate({ candidate: cand, sdpMLineIndex: 0 }) : rec.pc.addIceCandidate();
    p.catch(() => {}); // an end marker or a candidate the browser cannot use: nothing to do
  }

  onCandidate(m) {
    const rec = this.recs[m.conn];
    if (!rec || typeof m.candidate !== 'string') return;
    if (rec.remoteSet) this.addCandidate(rec, m.candidate);
    else rec.pending.push(m.candidate);
  }

  onOffer(m) {
    if (m.conn !== 'sub' || typeof m.sdp !== 'string' || !this.wanted.sub) return;
    this.latestOffer = m; // only the newest version matters
    if (!this.offerBusy) this.answerOffers();
  }

  async answerOffers() {
    this.offerBusy = true;
    try {
      while (this.latestOffer) {
        const m = this.latestOffer;
        this.latestOffer = null;
        await this.answerOne(m);
      }
    } finally {
      this.offerBusy = false;
    }
  }

  async answerOne(m) {
    let rec = this.recs.sub;
    if (!rec) {
      rec = this.open('sub');
      rec.pc.ontrack = (ev) => {
        if (ev.streams[0] && ev.transceiver && ev.transceiver.mid !== null) this.midStream.set(ev.transceiver.mid, ev.streams[0].id);
      };
      this.cb.onState({ conn: 'sub', state: 'connecting' });
    }
    try {
      await rec.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      if (!rec.remoteSet) this.remoteReady(rec);
      const answer = await rec.pc.createAnswer();
      await rec.pc.setLocalDescription(answer);
      if (rec.closed) return;
      this.conn.send({ type: 'media.answer', conn: 'sub', version: m.version, sdp: rec.pc.localDescription.sdp, ref: this.ref('sub', rec) });
      this.signalled(rec);
      this.streams = m.streams && typeof m.streams === 'object' ? m.streams : {};
      this.syncPeople(rec, m.sdp);
    } catch (err) {
      if (!rec.closed) this.localFailure('sub', rec, err);
    }
  }

  // Who we receive now: the offer's active sections grouped by stream id.
  syncPeople(rec, sdp) {
    const fromSdp = msidByMid(sdp);
    const want = new Map(); // stream id -> [tracks]
    for (const t of rec.pc.getTransceivers()) {
      if (t.mid === null || t.stopped) continue;
      if (t.currentDirection !== 'recvonly' && t.currentDirection !== 'sendrecv') continue;
      const sid = this.midStream.get(t.mid) || fromSdp.get(t.mid);
      if (!sid) continue;
      if (!want.has(sid)) want.set(sid, []);
      want.get(sid).push(t.receiver.track);
    }
    const next = new Map();
    for (const [sid, tracks] of want) {
      const had = this.people.get(sid);
      const stream = had ? had.stream : new this.impl.Stream();
      for (const t of stream.getTracks()) if (!tracks.includes(t)) stream.removeTrack(t);
      for (const t of tracks) if (!stream.getTracks().includes(t)) stream.addTrack(t);
      next.set(sid, { id: sid, info: this.streams[sid] || {}, stream });
    }
    this.setPeople(next);
  }

  setPeople(next) {
    this.people = next;
    this.cb.onPeople([...next.values()]);
  }

  onState(m) {
    const rec = this.recs[m.conn];
    if (!rec) return;
    if (m.state === 'connected') {
      rec.connected = true;
      rec.srtp = m.srtp;
      if (m.conn !== 'echo') this.retried[m.conn] = 0;
      this.cb.onState({ conn: m.conn, state: 'connected', srtp: m.srtp });
    } else if (m.state === 'failed') {
      this.failed(m.conn, rec, m.reason);
    } else if (m.state === 'closed') {
      this.drop(m.conn, false);
      if (m.conn === 'pub') this.wanted.pub = false; // a sub offer may come again: kamer still has us subscribed
      this.cb.onState({ conn: m.conn, state: 'closed', reason: m.reason });
    }
  }

  // A pub or sub connection failed: try again fresh after 2, 4, then 8 s.
  failed(kind, rec, reason) {
    if (rec.closed) return;
    this.drop(kind, true);
    const retrying = kind !== 'echo' && this.wanted[kind] && this.retried[kind] < RETRY_MS.length;
    this.cb.onState({ conn: kind, state: 'failed', reason, retrying });
    if (!retrying) {
      if (kind !== 'echo') this.wanted[kind] = false;
      return;
    }
    const delay = RETRY_MS[this.retried[kind]++];
    this.retryTimers[kind] = this.impl.timers.setTimeout(() => {
      this.retryTimers[kind] = null;
      if (!this.wanted[kind]) return;
      if (kind === 'pub') this.publish();
      else this.subscribe();
    }, delay);
  }

  onServerError(m) {
    const parts = typeof m.ref === 'string' ? m.ref.split(':') : [];
    if (parts[0] !== 'media') return;
    const kind = parts[1];
    const n = Number(parts[2]);
    if (kind === 'pub' || kind === 'echo') {
      const q = this.awaiting[kind];
      const i = q.findIndex((r) => r.n === n);
      if (i >= 0) q.splice(i, 1);
      if (this.recs[kind] && this.recs[kind].n === n) this.drop(kind, false);
      if (kind === 'pub') this.wanted.pub = false;
    } else if (kind === 'sub' && m.code === 'offer_replaced') {
      // Our answer was for an offer that is no longer current: a newer one follows.
      return;
    } else if (kind === 'sub' && m.code !== 'out_of_order') {
      // An answer kamer could not use, or no room for the connection.
      this.drop('sub', true);
      this.wanted.sub = false;
    }
    this.cb.onError({ conn: kind, code: m.code, message: m.message || '' });
  }

  // --- statistics

  // The summary (see summarize) of connection kind, or null.
  async stats(kind) {
    const rec = this.recs[kind];
    if (!rec) return null;
    const s = summarize(await rec.pc.getStats());
    s.connectionState = rec.pc.connectionState;
    return s;
  }

  // Per remote person (stream id): {rtt (ms), loss (0..1), kbps}, rates
  // since the previous call. Empty when nothing is received.
  async quality() {
    const rec = this.recs.sub;
    const out = new Map();
    if (!rec) return out;
    const s = summarize(await rec.pc.getStats());
    const now = performance.now();
    const rtt = s.pair && typeof s.pair.currentRoundTripTime === 'number' ? s.pair.currentRoundTripTime * 1000 : null;
    const byTrack = new Map(s.inbound.map((i) => [i.trackIdentifier, i]));
    const seen = new Map();
    for (const [sid, p] of this.people) {
      let bytes = 0, lost = 0, got = 0, dt = 0, have = false;
      for (const t of p.stream.getTracks()) {
        const i = byTrack.get(t.id);
        if (!i) continue;
        const cur = { t: now, bytes: i.bytesReceived || 0, lost: Math.max(0, i.packetsLost || 0), got: i.packetsReceived || 0 };
        seen.set(t.id, cur);
        const prev = this.prevQuality.get(t.id);
        if (!prev) continue;
        have = true;
        bytes += cur.bytes - prev.bytes;
        lost += cur.lost - prev.lost;
        got += cur.got - prev.got;
        dt = Math.max(dt, (cur.t - prev.t) / 1000);
      }
      out.set(sid, {
        rtt,
        loss: have && lost + got > 0 ? Math.max(0, lost) / (Math.max(0, lost) + got) : have ? 0 : null,
        kbps: have && dt > 0 ? (bytes * 8) / 1000 / dt : null,
      });
    }
    this.prevQuality = seen;
    return out;
  }
}

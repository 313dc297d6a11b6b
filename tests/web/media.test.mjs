// media.test.mjs — web/media.js with a fake consult connection, fake peer
// connections and fake timers: the publish offer and kamer's answer,
// trickle both ways (remote candidates kept until the remote description is
// set, "" as the end), subscribe offers answered per version on one
// connection with people grouped by msid stream id, a failed connection
// tried once more after 2 s, server errors by ref, and the stats summary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallMedia, msidByMid, summarize } from '../../web/media.js';

function fakes() {
  const sent = [];
  const handlers = new Map();
  const conn = {
    send(m) { sent.push(m); return true; },
    on(type, cb) {
      if (!handlers.has(type)) handlers.set(type, new Set());
      handlers.get(type).add(cb);
      return () => handlers.get(type).delete(cb);
    },
  };
  // kamer's side: a message to the page; resolves when its handlers' promises have.
  const recv = async (m) => {
    for (const cb of handlers.get(m.type) || []) await cb(m);
  };
  const pcs = [];
  let trackSeq = 0;
  class Stream {
    constructor(tracks = []) { this.tracks = [...tracks]; this.id = `s${++trackSeq}`; }
    getTracks() { return [...this.tracks]; }
    getAudioTracks() { return this.tracks.filter((t) => t.kind === 'audio'); }
    getVideoTracks() { return this.tracks.filter((t) => t.kind === 'video'); }
    addTrack(t) { this.tracks.push(t); }
    removeTrack(t) { this.tracks = this.tracks.filter((x) => x !== t); }
  }
  const track = (kind) => ({ kind, id: `t${++trackSeq}`, enabled: true });
  class PC {
    constructor(cfg) {
      this.cfg = cfg;
      this.transceivers = [];
      this.added = [];
      this.closed = false;
      this.localDescription = null;
      this.remoteDescription = null;
      this.connectionState = 'new';
      pcs.push(this);
    }
    addTransceiver(t, init) {
      const tr = { mid: String(this.transceivers.length), sender: { track: t, replaceTrack: async (x) => { tr.sender.track = x; } }, receiver: { track: track(t.kind) }, direction: init.direction };
      this.transceivers.push(tr);
      return tr;
    }
    getTransceivers() { return this.transceivers; }
    async createOffer() { return { type: 'offer', sdp: `offer with ${this.transceivers.length} sections` }; }
    async createAnswer() { return { type: 'answer', sdp: `answer to ${this.remoteDescription.sdp.length}` }; }
    async setLocalDescription(d) {
      this.localDescription = d;
      if (d.type === 'answer') for (const t of this.transceivers) t.currentDirection = t.offered;
    }
    async setRemoteDescription(d) {
      if (d.sdp === 'bad') throw new Error('bad sdp');
      this.remoteDescription = d;
      if (d.type !== 'offer') return;
      // One transceiver per m-section, as a browser makes them; ontrack per new msid.
      const sections = d.sdp.split('\nm=').slice(1);
      sections.forEach((sec, i) => {
        let tr = this.transceivers[i];
        if (!tr) {
          tr = { mid: String(i), sender: { track: null }, receiver: { track: track(sec.startsWith('audio') ? 'audio' : 'video') } };
          this.transceivers.push(tr);
        }
        tr.offered = /a=sendonly/.test(sec) ? 'recvonly' : 'inactive';
        const msid = sec.match(/a=msid:(\S+)/);
        if (tr.offered === 'recvonly' && msid && tr.stream !== msid[1]) {
          tr.stream = msid[1];
          this.ontrack?.({ track: tr.receiver.track, transceiver: tr, streams: [{ id: msid[1] }] });
        }
      });
    }
    async addIceCandidate(c) { this.added.push(c === undefined ? 'END' : c.candidate); }
    async getStats() { return new Map(); }
    close() { this.closed = true; }
  }
  const timers = {
    pending: [],
    setTimeout(fn, ms) { this.pending.push({ fn, ms }); return this.pending.length; },
    clearTimeout() { this.pending = []; },
    fire() { const p = this.pending; this.pending = []; p.forEach((t) => t.fn()); return p.map((t) => t.ms); },
  };
  const events = { people: [], states: [], errors: [] };
  const media = new CallMedia(conn, {
    onPeople: (p) => events.people.push(p), onState: (s) => events.states.push(s), onError: (e) => events.errors.push(e),
    PeerConnection: PC, Stream, timers,
  });
  media.setLocal(new Stream([track('audio'), track('video')]));
  return { sent, recv, pcs, timers, events, media, track };
}

const tick = () => new Promise((r) => setImmediate(r));
const subOffer = (sections) => `v=0\r\n${sections.map(([kind, dir, msid], i) => `m=${kind} 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:${i}\r\na=${dir}\r\n${msid ? `a=msid:${msid} ${msid}-${kind}\r\n` : ''}`).join('\n')}`;

test('publish: sendonly offer with a ref, answer applied, trickle both ways', async () => {
  const { sent, recv, pcs, media, events } = fakes();
  await media.publish();
  const pc = pcs[0];
  assert.deepEqual(pc.cfg.bundlePolicy, 'max-bundle');
  assert.deepEqual(pc.transceivers.map((t) => [t.sender.track.kind, t.direction]), [['audio', 'sendonly'], ['video', 'sendonly']]);
  const pub = sent.find((m) => m.type === 'media.publish');
  assert.equal(pub.sdp, 'offer with 2 sections');
  assert.match(pub.ref, /^media:pub:\d+$/);
  assert.deepEqual(events.states.at(-1), { conn: 'pub', state: 'connecting' });
  // kamer's candidates before its answer are kept ...
  await recv({ type: 'media.candidate', conn: 'pub', candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host' });
  await recv({ type: 'media.candidate', conn: 'pub', candidate: '' });
  assert.deepEqual(pc.added, []);
  // ... and added after it, "" as the end of candidates.
  await recv({ type: 'media.answer', conn: 'pub', sdp: 'answer' });
  await tick();
  assert.equal(pc.remoteDescription.sdp, 'answer');
  assert.deepEqual(pc.added, ['candidate:1 1 udp 1 127.0.0.1 5000 typ host', 'END']);
  await recv({ type: 'media.candidate', conn: 'pub', candidate: 'candidate:2 1 udp 1 127.0.0.1 5001 typ host' });
  assert.equal(pc.added.at(-1), 'candidate:2 1 udp 1 127.0.0.1 5001 typ host');
  // Our own candidates go out with conn "pub"; null becomes "".
  pc.onicecandidate({ candidate: { candidate: 'candidate:9 1 udp 9 127.0.0.1 6000 typ host' } });
  pc.onicecandidate({ candidate: null });
  assert.deepEqual(sent.filter((m) => m.type === 'media.candidate').map((m) => [m.conn, m.candidate]),
    [['pub', 'candidate:9 1 udp 9 127.0.0.1 6000 typ host'], ['pub', '']]);
  await recv({ type: 'media.state', conn: 'pub', state: 'connected', srtp: 'SRTP_AEAD_AES_256_GCM' });
  assert.deepEqual(events.states.at(-1), { conn: 'pub', state: 'connected', srtp: 'SRTP_AEAD_AES_256_GCM' });
});

test('mute and camera off flip track.enabled; close tells kamer', async () => {
  const { sent, media, pcs } = fakes();
  await media.publish();
  media.setMic(false);
  media.setCamera(false);
  assert.deepEqual(media.local.getTracks().map((t) => [t.kind, t.enabled]), [['audio', false], ['video', false]]);
  media.setMic(true);
  assert.equal(media.local.getAudioTracks()[0].enabled, true);
  media.subscribe();
  media.close();
  assert.equal(pcs[0].closed, true);
  assert.deepEqual(sent.filter((m) => m.type === 'media.close').map((m) => m.conn).sort(), ['pub', 'sub']);
});

test('subscribe: one connection answers every version; people by msid stream', async () => {
  const { sent, recv, pcs, media, events } = fakes();
  media.subscribe();
  assert.equal(sent[0].type, 'media.subscribe');
  await recv({ type: 'media.candidate', conn: 'sub', candidate: 'early' }); // no connection yet: ignored
  const streams = { k3: { participant: 34, role: 'patient', name: 'Anna' }, k1: { participant: 0, role: 'clinician', name: '' } };
  await recv({ type: 'media.offer', conn: 'sub', version: 1, streams, sdp: subOffer([['audio', 'sendonly', 'k3'], ['video', 'sendonly', 'k3']]) });
  await tick();
  assert.equal(pcs.length, 1);
  const ans = sent.filter((m) => m.type === 'media.answer');
  assert.deepEqual(ans.map((m) => [m.conn, m.version]), [['sub', 1]]);
  let people = events.people.at(-1);
  assert.equal(people.length, 1);
  assert.equal(people[0].id, 'k3');
  assert.deepEqual(people[0].info, streams.k3);
  assert.deepEqual(people[0].stream.getTracks().map((t) => t.kind), ['audio', 'video']);
  // Someone else starts publishing: version 2 on the same connection.
  await recv({ type: 'media.offer', conn: 'sub', version: 2, streams, sdp: subOffer([['audio', 'sendonly', 'k3'], ['video', 'sendonly', 'k3'], ['audio', 'sendonly', 'k1']]) });
  await tick();
  assert.equal(pcs.length, 1, 'one long-lived subscribe connection');
  people = events.people.at(-1);
  assert.deepEqual(people.map((p) => p.id).sort(), ['k1', 'k3']);
  // Anna stops: her sections become inactive, she is gone.
  await recv({ type: 'media.offer', conn: 'sub', version: 3, streams, sdp: subOffer([['audio', 'inactive'], ['video', 'inactive'], ['audio', 'sendonly', 'k1']]) });
  await tick();
  people = events.people.at(-1);
  assert.deepEqual(people.map((p) => [p.id, p.info.role]), [['k1', 'clinician']]);
  assert.deepEqual(sent.filter((m) => m.type === 'media.answer').map((m) => m.version), [1, 2, 3]);
});

test('offer_replaced for a sub answer is a race: silent, the connection stays; out_of_order is reported', async () => {
  const { sent, recv, pcs, media, events } = fakes();
  media.subscribe();
  await recv({ type: 'media.offer', conn: 'sub', version: 1, streams: {}, sdp: subOffer([['audio', 'sendonly', 'k1']]) });
  await tick();
  const ref = sent.find((m) => m.type === 'media.answer').ref;
  await recv({ type: 'error', code: 'offer_replaced', message: 'offer version 1 was replaced by version 2', ref });
  assert.equal(events.errors.length, 0);
  assert.equal(pcs[0].closed, false);
  await recv({ type: 'error', code: 'out_of_order', message: 'no offer of version 1 is outstanding', ref });
  assert.deepEqual(events.errors.map((e) => [e.conn, e.code]), [['sub', 'out_of_order']]);
  assert.equal(pcs[0].closed, false);
});

test('a failed connection is made again, fresh, after 2, 4 and 8 s; then given up', async () => {
  const { sent, recv, pcs, media, timers, events } = fakes();
  await media.publish();
  await recv({ type: 'media.answer', conn: 'pub', sdp: 'answer' });
  await recv({ type: 'media.state', conn: 'pub', state: 'failed', reason: 'ice: consent lost' });
  assert.deepEqual(events.states.at(-1), { conn: 'pub', state: 'failed', reason: 'ice: consent lost', retrying: true });
  assert.equal(pcs[0].closed, true);
  assert.equal(sent.at(-1).type, 'media.close');
  for (const [i, ms] of [[1, 2000], [2, 4000], [3, 8000]]) {
    if (i > 1) {
      await recv({ type: 'media.answer', conn: 'pub', sdp: 'answer' });
      await recv({ type: 'media.state', conn: 'pub', state: 'failed', reason: 'ice: failed' });
      assert.equal(events.states.at(-1).retrying, true, `retry ${i}`);
    }
    assert.deepEqual(timers.fire(), [ms]);
    await tick();
    assert.equal(pcs.length, i + 1, 'a new peer connection');
    assert.equal(sent.filter((m) => m.type === 'media.publish').length, i + 1);
  }
  await recv({ type: 'media.answer', conn: 'pub', sdp: 'answer' });
  await recv({ type: 'media.state', conn: 'pub', state: 'failed', reason: 'ice: failed' });
  assert.equal(events.states.at(-1).retrying, false, 'three times at most');
  assert.deepEqual(timers.fire(), []);
});

test('a connection that comes back counts as new: the retries start over', async () => {
  const { recv, pcs, media, timers, events } = fakes();
  await media.publish();
  await recv({ type: 'media.answer', conn: 'pub', sdp: 'answer' });
  for (let round = 0; round < 4; round++) {
    await recv({ type: 'media.state', conn: 'pub', state: 'failed', reason: 'ice: consent lost' });
    assert.equal(events.states.at(-1).retrying, true, `round ${round}`);
    assert.deepEqual(timers.fire(), [2000]);
    await tick();
    await recv({ type: 'media.answer', conn: 'pub', sdp: 'answer' });
    await recv({ type: 'media.state', conn: 'pub', state: 'connected', srtp: 'SRTP_AEAD_AES_256_GCM' });
  }
  assert.equal(pcs.length, 5);
});

test('disconnected: "interrupted" at once, "connected" when it comes back, a fresh connection after 8 s', async () => {
  const { recv, pcs, media, timers, events, sent } = fakes();
  await media.publish();
  await recv({ type: 'media.answer', conn: 'pub', sdp: 'answer' });
  await recv({ type: 'media.state', conn: 'pub', state: 'connected', srtp: 'SRTP_AEAD_AES_256_GCM' });
  const pc = pcs[0];
  const to = (st) => { pc.connectionState = st; pc.onconnectionstatechange(); };
  to('disconnected');
  assert.deepEqual(events.states.at(-1), { conn: 'pub', state: 'interrupted' });
  to('connected');
  assert.deepEqual(events.states.at(-1), { conn: 'pub', state: 'connected', srtp: 'SRTP_AEAD_AES_256_GCM' });
  assert.deepEqual(timers.pending, [], 'the grace timer is gone');
  to('disconnected');
  assert.equal(events.states.at(-1).state, 'interrupted');
  assert.deepEqual(timers.fire(), [2000, 8000]); // the ICE restart did not help in time
  assert.deepEqual(events.states.at(-1), { conn: 'pub', state: 'failed', reason: 'browser: connection lost', retrying: true });
  assert.equal(pc.closed, true);
  assert.equal(sent.at(-1).type, 'media.close');
  assert.deepEqual(timers.fire(), [2000]);
  await tick();
  assert.equal(pcs.length, 2, 'made again, fresh');
});

test('a publish connection still disconnected after 2 s gets an ICE restart on the same peer connection', async () => {
  const { recv, pcs, media, timers, events, sent } = fakes();
  await media.publish();
  await recv({ type: 'media.answer', conn: 'pub', sdp: 'answer' });
  await recv({ type: 'media.state', conn: 'pub', state: 'connected', srtp: 'SRTP_AEAD_AES_256_GCM' });
  const pc = pcs[0];
  let restartAsked = null;
  const createOffer = pc.createOffer.bind(pc);
  pc.createOffer = async (opts) => { restartAsked = opts; return createOffer(); };
  const to = (st) => { pc.connectionState = st; pc.onconnectionstatechange(); };
  to('disconnected');
  assert.deepEqual(timers.pending.map((t) => t.ms), [2000, 8000]);
  const publishes = () => sent.filter((m) => m.type === 'media.publish').length;
  assert.equal(publishes(), 1);
  timers.pending.shift().fn(); // the 2 s restart timer
  await tick();
  assert.deepEqual(restartAsked, { iceRestart: true });
  assert.equal(publishes(), 2, 'a new offer to kamer');
  assert.equal(pcs.length, 1, 'on the same peer connection');
  // Our new candidates go after the offer; kamer's wait for its answer.
  pc.onicecandidate({ candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host' } });
  assert.equal(sent.at(-1).type, 'media.candidate');
  await recv({ type: 'media.candidate', conn: 'pub', candidate: 'candidate:2 1 udp 1 127.0.0.1 6000 typ host' });
  assert.deepEqual(pc.added, [], 'not before the answer');
  await recv({ type: 'media.answer', conn: 'pub', sdp: 'restart answer' });
  await tick();
  assert.equal(pc.remoteDescription.sdp, 'restart answer');
  assert.deepEqual(pc.added, ['candidate:2 1 udp 1 127.0.0.1 6000 typ host']);
  to('connected');
  assert.deepEqual(events.states.at(-1), { conn: 'pub', state: 'connected', srtp: 'SRTP_AEAD_AES_256_GCM' });
  assert.deepEqual(timers.pending, [], 'no reconnect pending');
  assert.equal(pc.closed, false);
});

test('an answer for a replaced offer is not taken for the new one', async () => {
  const { recv, pcs, media } = fakes();
  await media.publish();
  await media.publish(); // replaces the first before its answer came
  await recv({ type: 'media.answer', conn: 'pub', sdp: 'first answer' });
  await recv({ type: 'media.answer', conn: 'pub', sdp: 'second answer' });
  await tick();
  assert.equal(pcs[0].remoteDescription, null);
  assert.equal(pcs[1].remoteDescription.sdp, 'second answer');
});

test('server errors by ref end that connection and are reported', async () => {
  const { sent, recv, media, events } = fakes();
  await media.publish();
  const ref = sent.find((m) => m.type === 'media.publish').ref;
  await recv({ type: 'error', code: 'sdp_invalid', message: 'm=1 (video): no codec kamer can forward (VP8)', ref });
  assert.deepEqual(events.errors, [{ conn: 'pub', code: 'sdp_invalid', message: 'm=1 (video): no codec kamer can forward (VP8)' }]);
  assert.equal(media.active.pub, false);
  await recv({ type: 'error', code: 'out_of_order', message: 'x', ref: 'chat3' }); // not ours
  assert.equal(events.errors.length, 1);
});

test('echo: sendrecv offer, returned tracks in one stream', async () => {
  const { sent, pcs, media } = fakes();
  const back = await media.echo();
  assert.deepEqual(pcs[0].transceivers.map((t) => t.direction), ['sendrecv', 'sendrecv']);
  assert.equal(sent.at(-1).type, 'media.echo');
  pcs[0].ontrack({ track: { kind: 'video', id: 'e1' } });
  assert.deepEqual(back.getTracks().map((t) => t.id), ['e1']);
});

test('msidByMid and summarize', () => {
  assert.deepEqual([...msidByMid(subOffer([['audio', 'sendonly', 'k5'], ['video', 'inactive']]))], [['0', 'k5']]);
  const report = new Map(Object.entries({
    T: { id: 'T', type: 'transport', dtlsState: 'connected', srtpCipher: 'SRTP_AEAD_AES_256_GCM', dtlsCipher: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', selectedCandidatePairId: 'P' },
    P: { id: 'P', type: 'candidate-pair', state: 'succeeded', currentRoundTripTime: 0.003, localCandidateId: 'L', remoteCandidateId: 'R' },
    L: { id: 'L', type: 'local-candidate', address: '127.0.0.1', port: 5000, candidateType: 'host' },
    R: { id: 'R', type: 'remote-candidate', address: '127.0.0.1', port: 6000, candidateType: 'host' },
    C: { id: 'C', type: 'codec', mimeType: 'video/VP8' },
    V: { id: 'V', type: 'inbound-rtp', kind: 'video', codecId: 'C', framesDecoded: 12, frameWidth: 640, trackIdentifier: 't1' },
  }));
  const s = summarize(report);
  assert.equal(s.transport.srtpCipher, 'SRTP_AEAD_AES_256_GCM');
  assert.equal(s.pair.currentRoundTripTime, 0.003);
  assert.equal(s.remote.port, 6000);
  assert.deepEqual(s.inbound, [{ kind: 'video', trackIdentifier: 't1', framesDecoded: 12, frameWidth: 640, codec: 'video/VP8' }]);
});

test('our candidates wait for our offer; reset forgets without telling kamer', async () => {
  const { sent, recv, pcs, media } = fakes();
  const p = media.publish();
  pcs[0].onicecandidate({ candidate: { candidate: 'candidate:early' } }); // before the offer went out
  assert.equal(sent.length, 0);
  await p;
  assert.deepEqual(sent.map((m) => m.type), ['media.publish', 'media.candidate']);
  media.subscribe();
  media.reset();
  assert.equal(pcs[0].closed, true);
  assert.equal(sent.filter((m) => m.type === 'media.close').length, 0);
  // After a reset, kamer's late offers start nothing.
  await recv({ type: 'media.offer', conn: 'sub', version: 1, streams: {}, sdp: subOffer([['audio', 'sendonly', 'k1']]) });
  await tick();
  assert.equal(pcs.length, 1);
});

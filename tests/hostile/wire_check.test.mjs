// wire_check.test.mjs — what a live call looks like on the wire. kamer gets a
// media port range; a call of two kamer-peers (publish + subscribe, 8 s) is
// captured with tshark on loopback, filtered to that range, bounded in time,
// packets and size, into a temporary pcap, and then read back with tshark.
// Asserted:
// - every DTLS connection's handshake is DTLS 1.2 (ClientHello and
//   ServerHello handshake version 0xfefd), and the use_srtp extension of
//   kamer's ServerHello names SRTP_AEAD_AES_256_GCM (0x0008) and nothing else;
//   one handshake per media connection (four), none with another profile;
// - no RTP payload travels in the clear: the peers' plaintext carries a VP8
//   keyframe header for 320x240 (start code 9d 01 2a, then 40 01 f0 00) and,
//   in every packet, a stamp holding the sender's CLOCK_MONOTONIC time in
//   microseconds; no captured UDP payload contains either, and no two RTP
//   payloads of one stream with different sequence numbers start with the
//   same 32 bytes (the synthetic Opus loop repeats every second). The same
//   search over plaintext RTP-like datagrams this test sends itself into the
//   range (a control) must find them, so that the check can fail;
// - the RTP packets captured are as many as the peers say they sent and
//   received (within a factor of two), and each stream's payloads are as
//   close to 8 bits/byte as random bytes are (the control's are not; VP8 in
//   the clear, itself compressed, measured 7.95).
// If tshark is missing the test fails (make deps installs it).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startKamer } from '../integration/lib/kamer.mjs';
import { COOKIE } from '../integration/lib/client.mjs';
import { wsConnect } from '../integration/lib/ws.mjs';
import { admitter, clinician, consult, mediaLog, peer, received, tokenFor } from '../integration/lib/media.mjs';
import { runBounded, which } from './lib/tools.mjs';

const SECONDS = 8;
const PORTS = 40; // kamer's media range; the last port is the control's receiver
const CAPTURE_LIMIT_S = 60, CAPTURE_MAX_PACKETS = 100000, CAPTURE_MAX_KB = 65536;
const CONTROL_PACKETS = 20;
const VP8_KEY_320x240 = Buffer.from([0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00]);
const AES_256_GCM = 0x0008;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const monoUs = () => process.hrtime.bigint() / 1000n; // CLOCK_MONOTONIC, as g_get_monotonic_time()

let k, tmp, ctrlRx, range;

// A port range of PORTS ports whose last port we can bind (the control's
// receiver); kamer gets the range and leaves that port to us.
async function pickRange() {
  for (let i = 0; i < 20; i++) {
    const min = 20000 + crypto.randomInt(0, 250) * PORTS;
    const max = min + PORTS - 1;
    const s = dgram.createSocket('udp4');
    const ok = await new Promise((r) => { s.once('error', () => r(false)); s.bind(max, '127.0.0.1', () => r(true)); });
    if (ok) return { min, max, sock: s };
    s.close();
  }
  throw new Error('no free UDP port range for the media');
}

// Starts tshark on loopback for the range; resolves once it captures.
async function startCapture(pcap, { min, max }) {
  const child = spawn('tshark', ['-i', 'lo', '-f', `udp portrange ${min}-${max}`, '-F', 'pcap', '-w', pcap,
    '-a', `duration:${CAPTURE_LIMIT_S}`, '-c', String(CAPTURE_MAX_PACKETS), '-a', `filesize:${CAPTURE_MAX_KB}`],
  { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '', exited = null;
  child.stderr.on('data', (d) => { stderr += d; });
  const closed = new Promise((r) => child.on('close', (code, signal) => { exited = { code, signal }; r(); }));
  for (let i = 0; i < 200 && !exited && !/Capturing on/.test(stderr); i++) await sleep(50);
  assert.ok(!exited && /Capturing on/.test(stderr), `tshark captures on lo: ${JSON.stringify(exited)} ${stderr}`);
  await sleep(300); // dumpcap has its filter in place a moment after it says so
  return {
    async stop() {
      if (!exited) try { process.kill(-child.pid, 'SIGINT'); } catch { /* gone */ }
      const killer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000);
      await closed;
      clearTimeout(killer);
      const n = Number((stderr.match(/(\d+) packets? captured/) || [0, -1])[1]);
      return { exited, stderr, captured: n };
    },
  };
}

// One plaintext RTP packet as kamer-peer makes it (tests/peer/codec.c):
// header, VP8 payload descriptor, payload, 13-byte stamp in the padding.
function plainRtp(i, video) {
  const head = Buffer.alloc(12);
  head[0] = 0xa0; // V=2, P (the stamp)
  head[1] = video ? 96 : 111;
  head.writeUInt16BE(i, 2);
  head.writeUInt32BE(i * 3000, 4);
  head.writeUInt32BE(video ? 0x11223344 : 0x55667788, 8);
  const body = video
    ? Buffer.concat([Buffer.from([0x90, 0x80, 0x80, i]), Buffer.from([0x50, 0x42, 0x00]), VP8_KEY_320x240, Buffer.alloc(600, 0x5a)])
    : Buffer.from('opus-like frame that repeats every second '.repeat(3));
  const stamp = Buffer.alloc(13);
  stamp.writeBigUInt64BE(monoUs(), 0);
  stamp.writeUInt32BE(i, 8);
  stamp[12] = 13;
  return Buffer.concat([head, body, stamp]);
}

// A socket that sends plaintext packets into the range (the control).
async function controlSender(to) {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  let i = 0;
  return {
    port: s.address().port,
    async send(n) {
      for (let j = 0; j < n; j++, i++) await new Promise((r) => s.send(plainRtp(i, i % 2 === 0), to, '127.0.0.1', r));
    },
    close: () => s.close(),
  };
}

async function tshark(args) {
  const r = await runBounded('tshark', args, { timeoutMs: 60000 });
  assert.equal(r.code, 0, `tshark ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
}

// The DTLS handshake messages of type (1 ClientHello, 2 ServerHello).
async function hellos(pcap, type) {
  // decode the range as DTLS outright rather than trust the heuristic
  const rows = await tshark(['-r', pcap, '-d', `udp.port==${range.min}-${range.max},dtls`,
    '-Y', `dtls.handshake.type == ${type}`, '-T', 'fields',
    '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'udp.srcport', '-e', 'udp.dstport',
    '-e', 'dtls.handshake.type', '-e', 'dtls.handshake.version', '-e', 'dtls.use_srtp.protection_profile']);
  return rows.map(([src, dst, types, versions, profiles]) => {
    // a record may hold several handshake messages: take this type's version
    const t = types.split(','), v = versions.split(',');
    return { src: Number(src), dst: Number(dst), version: Number(v[t.indexOf(String(type))]),
      profiles: profiles ? profiles.split(',').map(Number) : [] };
  });
}

// Every captured datagram: ports and payload.
async function datagrams(pcap) {
  const rows = await tshark(['-r', pcap, '-T', 'fields', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'udp.payload']);
  return rows.map(([src, dst, hex]) => ({ src: Number(src), dst: Number(dst), p: Buffer.from(hex || '', 'hex') }));
}

// RFC 7983 + RFC 5761: RTP (not RTCP) version 2; the payload after the
// header, its CSRCs and its extension (which SRTP leaves in the clear).
function rtpPayload(p) {
  if (p.length < 12 || p[0] >> 6 !== 2 || (p[1] & 0x7f) >= 64 && (p[1] & 0x7f) <= 95) return null;
  let off = 12 + 4 * (p[0] & 0x0f);
  if (p[0] & 0x10) {
    if (p.length < off + 4) return null;
    off += 4 + 4 * p.readUInt16BE(off + 2);
  }
  if (off > p.length) return null;
  return { ssrc: p.readUInt32BE(8), seq: p.readUInt16BE(2), payload: p.subarray(off) };
}

// Shannon entropy in bits per byte.
function entropy(buf) {
  const n = new Array(256).fill(0);
  for (const b of buf) n[b]++;
  let h = 0;
  for (const c of n) if (c) h -= (c / buf.length) * Math.log2(c / buf.length);
  return h;
}

// The plaintext markers in these datagrams: VP8 keyframe headers, stamps
// of the monotonic clock (its top 40 bits during the capture), payload
// prefixes repeated under another sequence number, and per-stream entropy.
function scan(dgrams, clockTops) {
  const r = { packets: dgrams.length, bytes: 0, rtp: 0, vp8: 0, stamps: 0, repeats: 0, streams: [] };
  const streams = new Map();
  for (const d of dgrams) {
    r.bytes += d.p.length;
    if (d.p.indexOf(VP8_KEY_320x240) >= 0) r.vp8++;
    if (clockTops.some((t) => d.p.indexOf(t) >= 0)) r.stamps++;
    const rtp = rtpPayload(d.p);
    if (!rtp) continue;
    r.rtp++;
    const key = `${d.src}>${d.dst}/${rtp.ssrc}`;
    if (!streams.has(key)) streams.set(key, { key, prefixes: new Map(), chunks: [], bytes: 0 });
    const s = streams.get(key);
    if (rtp.payload.length >= 32) {
      const pre = rtp.payload.subarray(0, 32).toString('hex');
      const seen = s.prefixes.get(pre);
      if (seen !== undefined && seen !== rtp.seq) r.repeats++;
      else s.prefixes.set(pre, rtp.seq);
    }
    s.chunks.push(rtp.payload);
    s.bytes += rtp.payload.length;
  }
  for (const s of streams.values()) {
    const all = Buffer.concat(s.chunks);
    r.streams.push({ key: s.key, bytes: all.length, entropy: entropy(all) });
  }
  return r;
}

describe('the wire of a live call (tshark)', { timeout: 120000 }, () => {
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kamer-wire-'));
    range = await pickRange();
    ctrlRx = range.sock;
    k = await startKamer({ env: { KAMER_MEDIA_PORT_MIN: String(range.min), KAMER_MEDIA_PORT_MAX: String(range.max) } });
  });
  after(async () => {
    if (k) await k.stop();
    if (ctrlRx) ctrlRx.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('DTLS 1.2 with AES-256-GCM only, and no RTP payload in the clear', async () => {
    assert.ok(which('tshark'), 'tshark is not installed: `make deps` installs it (Debian package tshark); '
      + 'by hand: DEBIAN_FRONTEND=noninteractive apt-get install -y tshark');
    assert.match(k.log(), new RegExp(`event=started .*ports=${range.min}-${range.max}`), 'kamer took the media range');
    const doc = await clinician(k, 'Praktijk W', 'dr@w.example');
    const id = await consult(doc, ['a@w.example', 'b@w.example']);
    const staff = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    assert.equal((await staff.request({ type: 'watch', consult: id }, 'room')).type, 'room');
    const stop = admitter(staff);

    const pcap = path.join(tmp, 'call.pcap');
    const t0 = monoUs();
    const cap = await startCapture(pcap, range);
    const ctrl = await controlSender(range.max);
    await ctrl.send(CONTROL_PACKETS / 2);
    const media = ['--publish', 'audio,video', '--subscribe', '--seconds', String(SECONDS), '--timeout', '30'];
    const run = (who, email) => {
      const report = path.join(tmp, `${who}.json`);
      return peer(k, ['--token', tokenFor(k, email), '--name', who, ...media, '--report', report])
        .then((x) => ({ ...x, report: x.report || (fs.existsSync(report) ? JSON.parse(fs.readFileSync(report, 'utf8')) : null) }));
    };
    const [a, b] = await Promise.all([run('A', 'a@w.example'), run('B', 'b@w.example')]);
    await ctrl.send(CONTROL_PACKETS / 2);
    ctrl.close();
    await sleep(300);
    const res = await cap.stop();
    const t1 = monoUs();
    stop();
    staff.close();
    assert.ok(res.captured > 0 && res.captured < CAPTURE_MAX_PACKETS, `tshark captured ${res.captured} packets, under its limit: ${res.stderr}`);

    // DTLS: four connections (pub and sub of each peer), each with kamer's ServerHello
    const ch = await hellos(pcap, 1), sh = await hellos(pcap, 2);
    const conn = (h) => [h.src, h.dst].sort().join('-');
    const conns = new Set([...ch, ...sh].map(conn));
    assert.equal(conns.size, 4, `four DTLS connections: ${[...conns]}`);
    for (const c of conns) {
      assert.ok(sh.some((h) => conn(h) === c), `${c}: a ServerHello`);
      assert.ok(ch.some((h) => conn(h) === c), `${c}: a ClientHello`);
    }
    for (const h of [...ch, ...sh]) assert.equal(h.version, 0xfefd, `${conn(h)}: DTLS 1.2 (0x${h.version.toString(16)})`);
    for (const h of sh) {
      assert.ok(h.src >= range.min && h.src <= range.max, `${conn(h)}: kamer sends the ServerHello`);
      assert.deepEqual(h.profiles, [AES_256_GCM], `${conn(h)}: ServerHello use_srtp is SRTP_AEAD_AES_256_GCM only`);
    }
    for (const h of ch) assert.ok(h.profiles.includes(AES_256_GCM), `${conn(h)}: the ClientHello offers AES-256-GCM`);

    // payloads: the same scan over the call and over the control
    const tops = [];
    for (let t = t0 >> 24n; t <= t1 >> 24n; t++) {
      const b8 = Buffer.alloc(8);
      b8.writeBigUInt64BE(t << 24n);
      tops.push(b8.subarray(0, 5));
    }
    const all = await datagrams(pcap);
    const ctl = scan(all.filter((d) => d.src === ctrl.port), tops);
    const call = scan(all.filter((d) => d.src !== ctrl.port), tops);
    // the control: the search finds what is there
    assert.equal(ctl.packets, CONTROL_PACKETS, 'the control packets were captured');
    assert.equal(ctl.vp8, CONTROL_PACKETS / 2, 'the search finds the VP8 keyframe header in plaintext');
    assert.equal(ctl.stamps, CONTROL_PACKETS, 'the search finds the clock stamp in plaintext');
    assert.ok(ctl.repeats > 0, 'the search finds repeated plaintext payloads');
    assert.ok(ctl.streams.every((s) => s.entropy < 5), `plaintext payloads are low entropy: ${JSON.stringify(ctl.streams)}`);
    // the call: none of it
    assert.equal(call.vp8, 0, 'no VP8 keyframe header in the clear');
    assert.equal(call.stamps, 0, 'no clock stamp in the clear');
    assert.equal(call.repeats, 0, 'no repeated payload under another sequence number');
    // the call itself worked (checked after the wire, whose failure says more)
    for (const [n, x] of Object.entries({ A: a, B: b })) {
      assert.ok(x.report, `${n}: a report (${x.err.slice(-500)})`);
      assert.equal(x.code, 0, `${n}: ${JSON.stringify(x.report.errors)}\nkamer:\n${mediaLog(k)}`);
      assert.equal(received(x.report).filter((r) => r.kind === 'video').length, 1, `${n} received video`);
    }
    const expected = [a, b].reduce((n, x) => n + x.report.conns.pub.stats.tx_rtp + x.report.conns.sub.stats.rx_rtp, 0);
    assert.ok(expected >= SECONDS * 2 * 2 * 50, `the peers sent and received RTP (${expected})`);
    assert.ok(call.rtp >= expected / 2 && call.rtp <= expected * 2, `SRTP packets captured ${call.rtp}, the peers count ${expected}`);
    assert.equal(call.streams.length, 8, `eight SRTP streams (audio and video, to and from kamer, of two peers): ${call.streams.map((s) => s.key)}`);
    for (const s of call.streams) {
      assert.ok(s.bytes > 20000, `${s.key}: ${s.bytes} bytes`);
      // random bytes: about 8 - 255 / (2 n ln 2) bits/byte; compressed VP8 in
      // the clear measured 7.95, so the margin is small on purpose
      const want = 8 - 255 / (2 * s.bytes * Math.LN2) - 0.01;
      assert.ok(s.entropy > want, `${s.key}: payload entropy ${s.entropy.toFixed(4)} bits/byte, want > ${want.toFixed(4)}`);
    }
    const minH = Math.min(...call.streams.map((s) => s.entropy));
    console.log(`# wire: ${conns.size} DTLS handshakes, all 0xfefd, ServerHello use_srtp ${sh.map((h) => `0x${h.profiles.map((p) => p.toString(16).padStart(4, '0')).join('+')}`).join(' ')} `
      + `(${sh.length} ServerHellos); ${res.captured} packets captured in ${range.min}-${range.max}, ${call.bytes} bytes scanned, `
      + `${call.rtp} SRTP packets (peers count ${expected}) in ${call.streams.length} streams, min entropy ${minH.toFixed(3)} bits/byte; `
      + `plaintext markers: call ${call.vp8} VP8 / ${call.stamps} stamps / ${call.repeats} repeats, control ${ctl.vp8} / ${ctl.stamps} / ${ctl.repeats}`);
  });
});

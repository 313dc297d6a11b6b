// media_flood.test.mjs — hostile UDP at kamer's media ports during a live
// call: random bytes, STUN binding requests with wrong credentials, DTLS
// ClientHello records that never finish, and SRTP-looking packets for
// unknown SSRCs, about 12,000 datagrams per port at up to 3,000 per second.
// Asserted: kamer stays up and answers HTTPS, the call's two peers keep
// decoding each other with no corrupt frame and no freeze over 500 ms, and
// kamer's memory comes back to within 20 MiB of where it was before.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startKamer } from '../integration/lib/kamer.mjs';
import { COOKIE } from '../integration/lib/client.mjs';
import { wsConnect } from '../integration/lib/ws.mjs';
import { admitter, clinician, consult, mediaLog, peer, received, tokenFor } from '../integration/lib/media.mjs';

let k, doc;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKiB = (pid) => Number(fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);

// kamer's UDP ports (its ICE sockets) from the kernel's socket table.
function udpPorts(pid) {
  const out = execFileSync('ss', ['-Hulpn'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`)).map((l) => Number(l.trim().split(/\s+/)[3].split(':').pop()))
    .filter((p) => p > 0);
}

// One hostile datagram of kind i % 4.
function hostile(i) {
  const r = crypto.randomBytes(16 + (i % 1200));
  switch (i % 4) {
  case 0: return r; // random bytes
  case 1: { // STUN binding request, wrong USERNAME, garbage integrity
    const b = Buffer.alloc(20 + 12 + 24);
    b.writeUInt16BE(0x0001, 0); b.writeUInt16BE(36, 2); b.writeUInt32BE(0x2112a442, 4); r.copy(b, 8, 0, 12);
    b.writeUInt16BE(0x0006, 20); b.writeUInt16BE(8, 22); b.write('bad:user', 24);
    b.writeUInt16BE(0x0008, 32); b.writeUInt16BE(20, 34); r.copy(b, 36, 0, 16);
    return b;
  }
  case 2: { // a DTLS 1.2 handshake record (ClientHello type) that leads nowhere
    const b = Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, i & 0xff, 0, 60, 1]), r.subarray(0, 59)]);
    return b;
  }
  default: { // SRTP-looking: V=2, PT 96/111, random SSRC and "ciphertext"
    const b = Buffer.concat([Buffer.alloc(12), r]);
    b[0] = 0x80; b[1] = i & 1 ? 96 : 111; b.writeUInt16BE(i & 0xffff, 2); b.writeUInt32BE(i * 960, 4); r.copy(b, 8, 0, 4);
    return b;
  }
  }
}

async function flood(ports, perPort, perSecond) {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  let sent = 0;
  const t0 = Date.now();
  for (let i = 0; i < perPort; i++) {
    for (const p of ports) { s.send(hostile(i), p, '127.0.0.1'); sent++; }
    if (i % 100 === 99) { // pace: at most perSecond datagrams per second in all
      const due = t0 + (sent / perSecond) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  }
  await sleep(200);
  s.close();
  return sent;
}

describe('hostile traffic at the media ports', { timeout: 120000 }, () => {
  before(async () => {
    k = await startKamer();
    doc = await clinician(k, 'Praktijk H', 'dr@h.example');
  });
  after(async () => { if (k) await k.stop(); });

  test('a live call survives a flood of bad datagrams at every media port', async () => {
    const id = await consult(doc, ['a@h.example', 'b@h.example']);
    const staff = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    assert.equal((await staff.request({ type: 'watch', consult: id }, 'room')).type, 'room');
    const stop = admitter(staff);
    const media = ['--publish', 'audio,video', '--subscribe', '--seconds', '14'];
    const peers = Promise.all([
      peer(k, ['--token', tokenFor(k, 'a@h.example'), '--name', 'A', ...media]),
      peer(k, ['--token', tokenFor(k, 'b@h.example'), '--name', 'B', ...media]),
    ]);
    // wait until the four media connections exist, then flood them
    let ports = [];
    for (let i = 0; i < 100 && ports.length < 4; i++) { await sleep(100); ports = udpPorts(k.pid); }
    assert.ok(ports.length >= 4, `kamer's media ports: ${ports}`);
    await sleep(1500);
    const before = rssKiB(k.pid);
    const sent = await flood(ports, 12000, 3000);
    const health = await k.req('GET', '/healthz');
    assert.equal(health.status, 200, 'kamer answers during the flood');
    const [a, b] = await peers;
    stop();
    staff.close();
    for (const [n, x] of Object.entries({ a, b })) {
      assert.ok(x.report, `${n}: report (${x.err.slice(-400)})`);
      assert.equal(x.code, 0, `${n}: ${JSON.stringify(x.report.errors)}\nkamer:\n${mediaLog(k)}`);
      const v = received(x.report).filter((r) => r.kind === 'video');
      assert.equal(v.length, 1, `${n} receives the other's video`);
      assert.ok(v[0].frames_decoded >= 250, `${n}: ${v[0].frames_decoded} frames decoded`);
      assert.equal(v[0].frames_corrupt, 0, `${n}: no corrupt frame`);
      assert.ok(v[0].max_freeze_ms <= 500, `${n}: longest freeze ${v[0].max_freeze_ms} ms`);
    }
    let after = rssKiB(k.pid);
    for (let i = 0; i < 30 && after > before + 20 * 1024; i++) { await sleep(200); after = rssKiB(k.pid); }
    console.log(`# flood: ${sent} datagrams at ${ports.length} ports; kamer RSS ${before} KiB before, ${after} KiB after`);
    assert.ok(after <= before + 20 * 1024, `memory back near its baseline: ${before} -> ${after} KiB`);
    assert.equal((await k.req('GET', '/healthz')).status, 200, 'kamer still answers');
  });
});

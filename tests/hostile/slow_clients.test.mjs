// slow_clients.test.mjs — connections that hold kamer's resources without
// finishing anything: half-open TCP (connected, nothing sent), TLS
// handshakes that stop after a few bytes, slowloris (HTTP headers trickling
// in a byte a second, never ending), idle TLS connections, and a WSS
// connection flooding messages. Asserted: kamer closes every one of them by
// itself within its timeouts (lws timeout_secs 10 s, a deadline for a whole
// request's headers), a client from another address is served all along,
// the flooding WSS connection is refused (rate_limited, then closed) while
// another WSS connection keeps getting answers, and afterwards kamer holds
// no more open files than before. Bounded: every socket, wait and loop.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startKamer } from '../integration/lib/kamer.mjs';
import { httpsFrom, wsFrom } from './lib/net.mjs';

let k;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fdCount = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

// A socket that records when (ms after start) the server closed it.
function track(s, t0) {
  const rec = { closedAt: null, s };
  s.on('close', () => { if (rec.closedAt === null) rec.closedAt = Date.now() - t0; });
  s.on('error', () => {});
  s.on('data', () => {});
  return rec;
}

// Polls /healthz from another address every 500 ms until stop(); returns
// the tally of answers.
function legitimate(addr) {
  const tally = { ok: 0, failed: 0, slowest: 0 };
  let stop = false;
  const done = (async () => {
    for (let i = 0; !stop && i < 200; i++) {
      const t = Date.now();
      try {
        const r = await httpsFrom(k, addr, 'GET', '/healthz');
        if (r.status === 200) tally.ok++; else tally.failed++;
      } catch { tally.failed++; }
      tally.slowest = Math.max(tally.slowest, Date.now() - t);
      await sleep(500);
    }
  })();
  return { tally, stop: async () => { stop = true; await done; } };
}

describe('slow and idle clients', () => {
  before(async () => { k = await startKamer(); });
  after(async () => { if (k) await k.stop(); });

  test('half-open, stalled TLS, slowloris and idle TLS connections are closed by kamer; others are served', { timeout: 90000 }, async () => {
    await sleep(500);
    const fd0 = fdCount(k.pid);
    const t0 = Date.now();
    const legit = legitimate('127.0.0.61');
    const recs = { halfOpen: [], stalledTls: [], slowloris: [], idleTls: [] };
    const opened = (s) => new Promise((r) => { s.once('connect', r); s.once('secureConnect', r); s.once('error', r); setTimeout(r, 5000); });
    for (let i = 0; i < 40; i++) {
      const s = net.connect({ host: '127.0.0.1', port: k.port, localAddress: '127.0.0.62' });
      recs.halfOpen.push(track(s, t0));
      await opened(s);
    }
    for (let i = 0; i < 20; i++) {
      const s = net.connect({ host: '127.0.0.1', port: k.port, localAddress: '127.0.0.63' });
      recs.stalledTls.push(track(s, t0));
      await opened(s);
      s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])); // a ClientHello's first bytes
    }
    const trickle = [];
    for (let i = 0; i < 20; i++) {
      const s = tls.connect({ host: '127.0.0.1', port: k.port, servername: 'localhost', rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'], localAddress: '127.0.0.64' });
      recs.slowloris.push(track(s, t0));
      await opened(s);
      s.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
      trickle.push(s);
    }
    for (let i = 0; i < 20; i++) {
      const s = tls.connect({ host: '127.0.0.1', port: k.port, servername: 'localhost', rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'], localAddress: '127.0.0.65' });
      recs.idleTls.push(track(s, t0));
      await opened(s);
    }
    const fdPeak = fdCount(k.pid);
    // Slowloris: one more header byte a second per connection, for up to 45 s.
    const all = Object.values(recs).flat();
    for (let sec = 0; sec < 45 && all.some((r) => r.closedAt === null); sec++) {
      for (const s of trickle) if (!s.destroyed) s.write('a');
      await sleep(1000);
    }
    await legit.stop();
    for (const r of all) r.s.destroy();
    const summary = Object.fromEntries(Object.entries(recs).map(([kind, rs]) => {
      const t = rs.map((r) => r.closedAt).filter((x) => x !== null);
      return [kind, { n: rs.length, closed_by_kamer: t.length, last_closed_s: t.length ? Math.max(...t) / 1000 : null }];
    }));
    await sleep(1000);
    const fd1 = fdCount(k.pid);
    console.log(`slow clients: ${JSON.stringify(summary)}; kamer's open files ${fd0} -> ${fdPeak} -> ${fd1}; ` +
      `/healthz from another address meanwhile: ${legit.tally.ok} ok, ${legit.tally.failed} failed, slowest ${legit.tally.slowest} ms`);
    for (const [kind, s] of Object.entries(summary)) assert.equal(s.closed_by_kamer, s.n, `${kind}: every connection closed by kamer`);
    assert.equal(legit.tally.failed, 0, 'the other address was served all along');
    assert.ok(legit.tally.ok >= 10, `the other address asked throughout (${legit.tally.ok})`);
    assert.ok(fdPeak >= fd0 + 50, `the connections were open at kamer (${fd0} -> ${fdPeak})`);
    assert.ok(fd1 <= fd0 + 5, `kamer's open files back to ${fd1} (before: ${fd0})`);
  });

  test('a WSS message flood is refused and closed; another connection keeps its answers', { timeout: 60000 }, async () => {
    const fd0 = fdCount(k.pid);
    const flood = await wsFrom(k, { localAddress: '127.0.0.66' });
    const calm = await wsFrom(k, { localAddress: '127.0.0.67' });
    let refused = 0, answered = 0, closed = false;
    flood.on('message', (d) => {
      const m = JSON.parse(d);
      if (m.type === 'error' && m.code === 'rate_limited') refused++;
      if (m.type === 'pong') answered++;
    });
    flood.on('close', () => { closed = true; });
    const SENT = 20000;
    for (let i = 0; i < SENT && !closed; i++) {
      flood.send(JSON.stringify({ type: 'ping', ref: `f${i}` }));
      if (i % 500 === 499) await sleep(1); // let the socket drain, still far above kamer's rate
    }
    // The calm connection is answered meanwhile and after.
    let calmOk = 0;
    for (let i = 0; i < 10; i++) {
      const m = await calm.request({ type: 'ping', ref: `c${i}` }, 'pong');
      if (m.type === 'pong') calmOk++;
      await sleep(100);
    }
    for (let i = 0; i < 50 && !closed; i++) await sleep(100);
    console.log(`WSS flood: ${SENT} pings sent, ${answered} answered, ${refused} refused as rate_limited, closed by kamer: ${closed}; ` +
      `the calm connection: ${calmOk}/10 answered`);
    assert.equal(calmOk, 10, 'the calm connection is answered');
    assert.ok(answered < SENT / 2, `most of the flood was not served (${answered})`);
    // kamer answers the first 50 of a second, says rate_limited once and
    // drops the rest unanswered; at 500 in a second it closes (what was
    // still queued for the flooder may go with the connection).
    assert.ok(refused <= 5, `rate_limited once per second, not once per message (${refused})`);
    assert.ok(closed, 'the flooding connection was cut off');
    assert.match(k.log(), /sub=ws event=flood_closed/, 'and kamer says so in its log');
    flood.terminate();
    calm.close();
    await sleep(1000);
    const fd1 = fdCount(k.pid);
    assert.ok(fd1 <= fd0 + 2, `kamer's open files back to ${fd1} (before: ${fd0})`);
  });
});

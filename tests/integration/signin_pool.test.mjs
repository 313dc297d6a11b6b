// signin_pool.test.mjs — password checks (scrypt, about 150 ms each) run in
// signaling/kdf_pool.c, off the signaling thread: while sign-ins with wrong
// passwords from 8 addresses run at once, a consult's WSS keeps answering.
// A WSS connection sends "ping" after "ping" (each waits for its "pong")
// for as long as the sign-ins last. Were a scrypt run on the signaling
// thread, a ping arriving meanwhile would wait for it (and for the others
// lws serves in the same round): its round trip would be at least as long
// as the fastest sign-in. The checks are relative (no absolute times):
// the slowest ping round trip is shorter than the fastest sign-in and than
// the time all the sign-ins took. Also: every wrong password gets the one
// 401, a right one still signs in, a set-up link (a hash in the pool) still
// sets a password, concurrent sign-ins of one address see each other's
// failures, a sign-in whose connection closes before the answer is still
// counted and audited, and a full pool answers 503 busy.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli, startKamer } from './lib/kamer.mjs';
import { wsConnect } from './lib/ws.mjs';
import tls from 'node:tls';
import { AddrClient } from '../hostile/lib/net.mjs';
import { sql } from '../hostile/lib/flow.mjs';

const ADDRESSES = 8;
const ROUNDS = 2; // attempts per address (three failures are free of delay)
const PASSWORD = 'correct horse battery staple 42';
const EMAIL = 'dr.pool@praktijk-pool.example';

let k;

describe('password checks off the signaling thread', () => {
  before(async () => {
    k = await startKamer();
    const cli = (...args) => runCli([...args, '--data', k.dataDir], { KAMER_LISTEN: `127.0.0.1:${k.port}` });
    assert.equal(cli('admin', 'org', 'create', 'Praktijk Pool').status, 0);
    const add = cli('admin', 'user', 'add', '--org', 'Praktijk Pool', '--role', 'clinician', '--email', EMAIL);
    assert.equal(add.status, 0, add.stderr);
    const token = add.stdout.match(/\/setup#([A-Za-z0-9_-]{43})/)[1];
    const r = await new AddrClient(k, '127.0.0.40').post('/api/v1/auth/setup', { token, password: PASSWORD });
    assert.equal(r.status, 200, r.body);
  });
  after(async () => { if (k) await k.stop(); });

  test('WSS pings answer while 8 addresses guess passwords at once', async () => {
    const ws = await wsConnect(k);
    let done = false, seq = 0;
    const rtts = [];
    const pinger = (async () => {
      while (!done) {
        const ref = `p${seq++}`;
        const t0 = process.hrtime.bigint();
        ws.sendJson({ type: 'ping', ref });
        await ws.waitFor((m) => m.type === 'pong' && m.ref === ref, 30000);
        rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
        await new Promise((r) => setTimeout(r, 30)); // under the WSS message rate (50 a second)
      }
    })();
    await new Promise((r) => setTimeout(r, 100)); // the pinger is going
    const rttsBefore = rtts.length;

    const signinMs = [];
    const t0 = Date.now();
    const guessers = Array.from({ length: ADDRESSES }, async (_, i) => {
      const c = new AddrClient(k, `127.0.0.${10 + i}`);
      const codes = [];
      for (let j = 0; j < ROUNDS; j++) {
        const email = i % 2 ? EMAIL : `nobody${i}@praktijk-pool.example`;
        const s = Date.now();
        const r = await c.post('/api/v1/auth/signin', { email, password: `wrong guess ${i}.${j}` });
        signinMs.push(Date.now() - s);
        codes.push(`${r.status} ${r.json?.error?.code}`);
      }
      return codes;
    });
    const codes = (await Promise.all(guessers)).flat();
    const totalMs = Date.now() - t0;
    done = true;
    await pinger;
    ws.close();

    assert.deepEqual(codes, Array(ADDRESSES * ROUNDS).fill('401 signin_failed'));
    const during = rtts.slice(rttsBefore);
    const maxRtt = Math.max(...during);
    const fastest = Math.min(...signinMs);
    console.log(`sign-ins: ${signinMs.length} in ${totalMs} ms (fastest ${fastest} ms, slowest ${Math.max(...signinMs)} ms); ` +
      `pings meanwhile: ${during.length}, max RTT ${maxRtt.toFixed(1)} ms, median ${during.sort((a, b) => a - b)[Math.floor(during.length / 2)].toFixed(1)} ms`);
    assert.ok(during.length >= 3, `pings answered during the sign-ins: ${during.length}`);
    assert.ok(maxRtt < totalMs, `slowest ping ${maxRtt} ms vs all sign-ins ${totalMs} ms`);
    assert.ok(maxRtt < fastest, `slowest ping ${maxRtt} ms vs fastest sign-in ${fastest} ms`);
  });

  test('the right password still signs in (one check, from a fresh address)', async () => {
    const c = new AddrClient(k, '127.0.0.41');
    const r = await c.post('/api/v1/auth/signin', { email: EMAIL, password: PASSWORD });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.next, 'enrol');
    assert.ok(c.cookie, 'a session cookie');
  });

  test('concurrent sign-ins of one address are served one after another, as before', async () => {
    // Three failures are free; the fourth and later must see the earlier
    // ones (429), even when they all arrive at once.
    const c = new AddrClient(k, '127.0.0.42');
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      c.post('/api/v1/auth/signin', { email: `same${i}@praktijk-pool.example`, password: 'wrong guess again' })));
    const by = rs.map((r) => `${r.status} ${r.json?.error?.code}`).sort();
    assert.deepEqual(by.filter((s) => s === '401 signin_failed').length, 4, by.join(', '));
    assert.deepEqual(by.filter((s) => s === '429 too_many_attempts').length, 2, by.join(', '));
  });

  test('a sign-in whose connection closes before the answer is still counted and audited', async () => {
    const email = 'gone@praktijk-pool.example';
    const body = JSON.stringify({ email, password: 'wrong and gone' });
    const head = `POST /api/v1/auth/signin HTTP/1.1\r\nHost: localhost\r\nOrigin: https://localhost:${k.port}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const before = Number(sql(k, "SELECT count(*) FROM audit WHERE action = 'signin' AND outcome = 'failure'"));
    // Sent in full, then the connection is gone well before one scrypt is done.
    const got = await new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: k.port, servername: 'localhost', ca: k.ca,
        ALPNProtocols: ['http/1.1'], localAddress: '127.0.0.43' });
      let text = '';
      s.on('data', (d) => { text += d; });
      s.on('error', () => {});
      s.on('secureConnect', () => s.write(head, () => setTimeout(() => { s.destroy(); resolve(text); }, 20)));
    });
    assert.equal(got, '', 'no answer arrived');
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) {
      await new Promise((res) => setTimeout(res, 100));
      after = Number(sql(k, "SELECT count(*) FROM audit WHERE action = 'signin' AND outcome = 'failure'"));
    }
    assert.equal(after, before + 1, 'the failure was audited');
    // The address's failure counts: after two more, the fourth is free, the fifth refused.
    const c = new AddrClient(k, '127.0.0.43');
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await c.post('/api/v1/auth/signin', { email, password: `again ${i}` })).status);
    assert.deepEqual(codes, [401, 401, 401, 429]);
  });

  // Last: kamer is stopped with the pool's jobs still out (a clean stop
  // under ASan is part of the test).
  test('a full pool answers 503 busy with Retry-After 1; every other attempt gets the one 401', async () => {
    const n = 100; // more than the 64 checks the pool takes at once
    const arrived = [];
    const t0 = Date.now();
    for (let i = 0; i < n; i++) {
      new AddrClient(k, `127.0.1.${i + 1}`).post('/api/v1/auth/signin', { email: `flood${i}@praktijk-pool.example`, password: 'flood' })
        .then((r) => arrived.push(r), () => {}); // the rest wait for the pool; kamer stops first
    }
    // Refusals are answered at once, the checks one after another: wait
    // until answers stop coming for a second (10 s at most).
    for (let i = 0, seen = -1, quiet = 0; i < 100 && quiet < 10; i++) {
      await new Promise((res) => setTimeout(res, 100));
      quiet = arrived.length === seen && arrived.some((r) => r.status === 503) ? quiet + 1 : 0;
      seen = arrived.length;
    }
    const secs = (Date.now() - t0) / 1000;
    const busy = arrived.filter((r) => r.status === 503);
    const failed = arrived.filter((r) => r.status === 401 && r.json.error.code === 'signin_failed');
    assert.equal(busy.length + failed.length, arrived.length, arrived.map((r) => r.status).join(' '));
    assert.ok(busy.length >= 1 && busy.length <= n - 64, `${busy.length} of ${n} refused (${failed.length} checked so far)`);
    for (const r of busy) {
      assert.equal(r.json.error.code, 'busy');
      assert.equal(r.headers['retry-after'], '1');
    }
    const lines = k.log().split('\n').filter((l) => l.includes('event=kdf_busy')).length;
    assert.ok(lines >= 1 && lines <= Math.ceil(secs) + 1, `${lines} kdf_busy lines in ${secs} s`);
    const stop = await k.stop();
    k = null;
    assert.equal(stop.code, 0, `kamer stopped cleanly with jobs out: ${JSON.stringify(stop)}`);
  });
});

// limits.test.mjs — oversized requests against kamer: 64 KiB headers (one
// header, a thousand headers, the URL, the cookie), 10 MiB bodies
// (announced, chunked, unannounced, lying lengths), a 10 MiB WSS message,
// over HTTP/1.1 and HTTP/2. Each must be refused (a 4xx answer or a closed
// connection, never a 2xx), and kamer must keep serving afterwards. Also:
// the per-address request rate limit gives an address its budget back
// after a pause.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startKamer } from '../integration/lib/kamer.mjs';
import { h2Request, rawHttp1, wsFrom } from './lib/net.mjs';

const KiB64 = 64 * 1024;
const MiB10 = 10 * 1024 * 1024;
let k;

// kamer is still running and answers a fresh connection.
async function alive(kk, what) {
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(kk.exited(), null, `${what}: kamer exited ${JSON.stringify(kk.exited())}\n${kk.log().split('\n').slice(-5).join('\n')}`);
  const r = await rawHttp1(kk.port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', { timeout: 5000 });
  assert.equal(r.status, 200, `${what}: /healthz afterwards (${r.how})`);
}

// A refusal: a 4xx, or no answer at all because the connection was closed.
function refused(what, status, how) {
  assert.ok((status >= 400 && status < 500) || (status === 0 && how !== 'timeout'), `${what}: status ${status}, ${how}`);
}

const post = (port, extra) => `POST /api/v1/auth/signin HTTP/1.1\r\nHost: localhost\r\nOrigin: https://localhost:${port}\r\nContent-Type: application/json\r\n${extra}\r\n`;

describe('oversized requests and the request rate', () => {
  before(async () => { k = await startKamer(); });
  after(async () => { if (k) await k.stop(); });

  test('HTTP/1.1: 64 KiB of headers, in any shape, is refused', async () => {
    const big = 'a'.repeat(KiB64);
    let many = '';
    for (let i = 0; i < 1024; i++) many += `X-H${i}: ${'b'.repeat(58)}\r\n`;
    const cases = [
      ['one 64 KiB header', `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${big}\r\n\r\n`],
      ['1,024 headers of 64 bytes', `GET /healthz HTTP/1.1\r\nHost: localhost\r\n${many}\r\n`],
      ['a 64 KiB URL', `GET /${big} HTTP/1.1\r\nHost: localhost\r\n\r\n`],
      ['a 64 KiB query', `GET /healthz?q=${big} HTTP/1.1\r\nHost: localhost\r\n\r\n`],
      ['a 64 KiB cookie', `GET /healthz HTTP/1.1\r\nHost: localhost\r\nCookie: __Host-kamer_session=${big}\r\n\r\n`],
      ['a 64 KiB Origin on a POST', post(k.port, 'Content-Length: 2\r\n').replace(/Origin: [^\r]*/, `Origin: ${big}`) + '{}'],
      ['a 64 KiB WSS key', `GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${big}\r\nOrigin: https://localhost:${k.port}\r\n\r\n`],
    ];
    for (const [what, head] of cases) {
      const r = await rawHttp1(k.port, head, { timeout: 8000 });
      console.log(`h1 ${what}: ${r.status || 'no answer'} (${r.how})`);
      refused(`h1 ${what}`, r.status, r.how);
      await alive(k, `h1 ${what}`);
    }
  });

  test('HTTP/1.1: 10 MiB bodies and lying lengths are refused', async () => {
    const body = Buffer.alloc(MiB10, 0x61);
    let chunked = '';
    for (let i = 0; i < 160; i++) chunked += `10000\r\n${'a'.repeat(KiB64)}\r\n`;
    const cases = [
      ['10 MiB announced', post(k.port, `Content-Length: ${MiB10}\r\n`), body],
      ['10 MiB chunked', post(k.port, 'Transfer-Encoding: chunked\r\n'), Buffer.from(`${chunked}0\r\n\r\n`)],
      ['10 MiB unannounced', post(k.port, 'Connection: close\r\n'), body],
      ['10 MiB behind Content-Length: 2', post(k.port, 'Content-Length: 2\r\n'), body],
      ['a 20-digit Content-Length', post(k.port, 'Content-Length: 99999999999999999999\r\n'), body],
      ['a negative Content-Length', post(k.port, 'Content-Length: -1\r\n'), body],
      ['two Content-Lengths', post(k.port, `Content-Length: 2\r\nContent-Length: ${MiB10}\r\n`), body],
      ['Content-Length and chunked', post(k.port, `Content-Length: 2\r\nTransfer-Encoding: chunked\r\n`), Buffer.from(`${chunked}0\r\n\r\n`)],
      ['one byte over http_max_body', post(k.port, `Content-Length: ${KiB64 + 1}\r\n`), Buffer.alloc(KiB64 + 1, 0x20)],
    ];
    for (const [what, head, b] of cases) {
      const r = await rawHttp1(k.port, head, { body: b, timeout: 15000 });
      console.log(`h1 ${what}: ${r.status || 'no answer'} (${r.how}, ${(r.sent / 1048576).toFixed(1)} MiB sent)`);
      // A 2xx/3xx would mean the oversized request was taken; anything the
      // server may answer first for the small part (Content-Length: 2) is a 4xx.
      refused(`h1 ${what}`, r.status, r.how);
      await alive(k, `h1 ${what}`);
    }
  });

  test('WSS: a 10 MiB message is refused and the connection stays usable or closes', async () => {
    const ws = await wsFrom(k);
    const closed = new Promise((r) => ws.once('close', () => r('closed')));
    ws.send(JSON.stringify({ type: 'ping', ref: 'x'.repeat(MiB10) }));
    const answer = await Promise.race([ws.waitFor((m) => m.type === 'error', 15000).then((m) => m.code), closed]);
    console.log(`WSS 10 MiB message: ${answer}`);
    assert.ok(answer === 'too_large' || answer === 'closed', answer);
    if (answer === 'too_large') {
      const pong = await ws.request({ type: 'ping', ref: 'after' }, 'pong');
      assert.equal(pong.type, 'pong');
    }
    ws.terminate();
    await alive(k, 'WSS 10 MiB');
  });

  test('HTTP/2: 64 KiB header fields kamer reads are refused; unknown ones do not hurt', async () => {
    const big = 'a'.repeat(KiB64);
    for (const [what, h] of [['cookie', { cookie: `__Host-kamer_session=${big}` }], ['user-agent', { 'user-agent': big }],
      ['origin', { origin: big }], [':path', { ':path': `/${big}` }]]) {
      const r = await h2Request(k, { ':path': '/healthz', ...h });
      console.log(`h2 64 KiB ${what}: ${r.status || 'no answer'} ${r.err}`);
      refused(`h2 64 KiB ${what}`, r.status, r.err === 'timeout' ? 'timeout' : 'closed');
      await alive(k, `h2 64 KiB ${what}`);
    }
    // Header fields kamer never reads are dropped by libwebsockets' HPACK
    // decoder without being stored: the request is answered as if they were
    // not there. Asserted: no 5xx and kamer stays up; the status is printed.
    const many = {};
    for (let i = 0; i < 1024; i++) many[`x-h${i}`] = 'b'.repeat(58);
    for (const [what, h] of [['one unknown 64 KiB field', { 'x-big': big }], ['1,024 unknown fields', many]]) {
      const r = await h2Request(k, { ':path': '/healthz', ...h });
      console.log(`h2 ${what}: ${r.status || 'no answer'} ${r.err} (not stored: see the comment)`);
      assert.ok(r.status < 500, `h2 ${what}: ${r.status}`);
      await alive(k, `h2 ${what}`);
    }
  });

  test('HTTP/2: a 10 MiB body with a Content-Length is refused', async () => {
    const r = await h2Request(k, { ':method': 'POST', ':path': '/api/v1/auth/signin', origin: `https://localhost:${k.port}`,
      'content-type': 'application/json', 'content-length': String(MiB10) }, Buffer.alloc(MiB10, 0x61), { timeout: 15000 });
    console.log(`h2 10 MiB announced: ${r.status || 'no answer'} ${r.err}`);
    refused('h2 10 MiB announced', r.status, r.err === 'timeout' ? 'timeout' : 'closed');
    await alive(k, 'h2 10 MiB announced');
  });

  // The per-address request rate (http_rate_per_sec 50, http_rate_burst 200,
  // docs/configuration.md) is a token bucket: an address that spent its
  // burst and then paused for 5 s has its 200 requests back.
  test('the request rate limit: after a burst and a 5 s pause, an address is served again', { timeout: 60000 }, async () => {
    // 60 pipelined requests per connection: kamer takes them back to back.
    const ip = '127.0.0.7';
    let head = '';
    for (let i = 0; i < 59; i++) head += 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n';
    head += 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
    const count = (text) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].reduce((m, x) => { m[x[1]] = (m[x[1]] || 0) + 1; return m; }, {});
    const burst = {};
    for (let i = 0; i < 8 && !burst[429]; i++) {
      for (const [st, n] of Object.entries(count((await rawHttp1(k.port, head, { localAddress: ip })).text))) burst[st] = (burst[st] || 0) + n;
    }
    assert.ok(burst[429] > 0, `pipelined requests spend the burst: ${JSON.stringify(burst)}`);
    await new Promise((r) => setTimeout(r, 5000));
    const later = count((await rawHttp1(k.port, head, { localAddress: ip })).text);
    console.log(`request rate from ${ip}: the burst got ${JSON.stringify(burst)}; 5 s later (250 tokens at 50/s, capped at 200), 60 requests got ${JSON.stringify(later)}`);
    assert.equal(later[200], 60, `after the pause all 60 are served: ${JSON.stringify(later)}`);
  });

  // Its own kamer: when this fails, kamer is gone.
  test('HTTP/2: a 10 MiB body without a Content-Length is refused (kamer keeps running)', async () => {
    const k2 = await startKamer();
    try {
      for (const size of [200 * 1024, MiB10]) {
        const r = await h2Request(k2, { ':method': 'POST', ':path': '/api/v1/auth/signin', origin: `https://localhost:${k2.port}`,
          'content-type': 'application/json' }, Buffer.alloc(size, 0x61), { timeout: 15000 });
        console.log(`h2 ${size} bytes unannounced: ${r.status || 'no answer'} ${r.err}`);
        await alive(k2, `h2 POST of ${size} bytes without Content-Length`);
        refused(`h2 ${size} bytes unannounced`, r.status, r.err === 'timeout' ? 'timeout' : 'closed');
      }
    } finally {
      await k2.stop();
    }
  });
});

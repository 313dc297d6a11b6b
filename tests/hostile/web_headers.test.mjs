// web_headers.test.mjs — the browser-facing defences of kamer's HTTPS and
// WSS: the security headers on every kind of response (HTTP/1.1 and
// HTTP/2), the attributes of the session and participant cookies, CSRF
// (state-changing requests with a foreign or no Origin are refused even
// with a valid session cookie, and change nothing), and WSS upgrades from
// a foreign or no Origin.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startKamer } from '../integration/lib/kamer.mjs';
import { COOKIE, totp } from '../integration/lib/client.mjs';
import { advance, createConsult, makeOrg, nowOf, onboard, PASSWORD, sql, tokenFor } from './lib/flow.mjs';
import { AddrClient, h2Request, httpsFrom, rawHttp1, wsFrom } from './lib/net.mjs';

const HSTS_MIN = 15552000; // 180 days
let k, doc;

// Parses a Content-Security-Policy into {directive: [sources]}.
function parseCsp(v) {
  const out = {};
  for (const part of v.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out[name.toLowerCase()] = sources;
  }
  return out;
}

// Asserts the security headers of one response (headers: lower-case names).
function checkHeaders(what, h) {
  const csp = h['content-security-policy'];
  assert.ok(csp, `${what}: Content-Security-Policy`);
  for (const bad of ["'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"]) assert.ok(!csp.includes(bad), `${what}: CSP has ${bad}`);
  const d = parseCsp(csp);
  assert.deepEqual(d['frame-ancestors'], ["'none'"], `${what}: frame-ancestors 'none'`);
  const script = d['script-src'] || d['default-src'];
  assert.ok(script, `${what}: CSP restricts scripts`);
  for (const s of script) assert.ok(!/^(\*|https?:|data:|blob:)$/.test(s) && !s.includes('*'), `${what}: script source ${s}`);
  assert.deepEqual(d['object-src'] || d['default-src'], ["'none'"], `${what}: object-src 'none'`);
  assert.ok(d['base-uri'], `${what}: base-uri`);
  const hsts = h['strict-transport-security'];
  assert.ok(hsts, `${what}: Strict-Transport-Security`);
  const age = Number((hsts.match(/max-age=(\d+)/i) || [])[1]);
  assert.ok(age >= HSTS_MIN, `${what}: HSTS max-age ${age}`);
  assert.equal(h['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
  assert.equal(h['x-content-type-options'], 'nosniff', `${what}: X-Content-Type-Options`);
}

// Headers of a raw HTTP/1.1 answer, lower-case names.
function rawHeaders(text) {
  const h = {};
  for (const line of text.split('\r\n\r\n')[0].split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) h[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return h;
}

// Asserts that a Set-Cookie value is a __Host- cookie with Secure,
// HttpOnly, SameSite Strict or Lax, Path=/ and no Domain.
function checkCookie(what, setCookie, name) {
  assert.ok(setCookie, `${what}: a Set-Cookie`);
  const [pair, ...attrs] = setCookie.split(';').map((s) => s.trim());
  assert.ok(pair.startsWith(`${name}=`), `${what}: cookie name ${pair.split('=')[0]}`);
  assert.ok(name.startsWith('__Host-'), `${what}: __Host- prefix`);
  const a = new Map(attrs.map((x) => { const [n, ...v] = x.split('='); return [n.toLowerCase(), v.join('=')]; }));
  assert.ok(a.has('secure'), `${what}: Secure`);
  assert.ok(a.has('httponly'), `${what}: HttpOnly`);
  assert.ok(['strict', 'lax'].includes((a.get('samesite') || '').toLowerCase()), `${what}: SameSite=${a.get('samesite')}`);
  assert.equal(a.get('path'), '/', `${what}: Path=/`);
  assert.ok(!a.has('domain'), `${what}: no Domain`);
  return { value: pair.slice(name.length + 1), samesite: a.get('samesite') };
}

const sessionCookieOf = (r) => (r.headers['set-cookie'] || []).find((c) => c.startsWith(`${COOKIE}=`));

describe('web security', () => {
  before(async () => {
    k = await startKamer();
    makeOrg(k, 'Praktijk W');
    doc = await onboard(k, { org: 'Praktijk W', email: 'dr.w@praktijk-w.example' });
  });
  after(async () => { if (k) await k.stop(); });

  test('every kind of response carries the security headers (HTTP/1.1 and HTTP/2)', async () => {
    const origin = { origin: `https://localhost:${k.port}` };
    const token = 'A'.repeat(43);
    const cases = [
      ['static page /', 'GET', '/', undefined, {}, 200],
      ['static page /signin', 'GET', '/signin', undefined, {}, 200],
      ['script', 'GET', '/page.js', undefined, {}, 200],
      ['style', 'GET', '/style.css', undefined, {}, 200],
      ['join page /j/TOKEN', 'GET', `/j/${token}`, undefined, {}, 200],
      ['/healthz', 'GET', '/healthz', undefined, {}, 200],
      ['API JSON success', 'GET', '/api/v1/version', undefined, {}, 200],
      ['API 401', 'GET', '/api/v1/auth/me', undefined, {}, 401],
      ['API 400 bad JSON', 'POST', '/api/v1/auth/signin', '{"email": ', origin, 400],
      ['API 403 foreign Origin', 'POST', '/api/v1/auth/signin', '{}', { origin: 'https://evil.example' }, 403],
      ['API 404', 'GET', '/api/v1/no-such-thing', undefined, {}, 404],
      ['static 404', 'GET', '/no-such-page.html', undefined, {}, 404],
      ['405', 'DELETE', '/index.html', undefined, {}, 405],
    ];
    for (const [what, method, p, body, headers, status] of cases) {
      const r = await httpsFrom(k, '127.0.0.1', method, p, body, headers);
      assert.equal(r.status, status, `${what}: ${r.body.slice(0, 200)}`);
      checkHeaders(`h1 ${what}`, r.headers);
      const r2 = await h2Request(k, { ':method': method, ':path': p, ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) }, body);
      assert.equal(r2.status, status, `h2 ${what}: ${r2.err} ${r2.body.slice(0, 200)}`);
      checkHeaders(`h2 ${what}`, r2.headers);
    }
    // 413: announced too large; kamer answers before the body comes.
    const big = await rawHttp1(k.port, `POST /api/v1/auth/signin HTTP/1.1\r\nHost: localhost\r\nOrigin: https://localhost:${k.port}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${100 << 20}\r\n\r\n`, { timeout: 3000 });
    assert.equal(big.status, 413, big.text.slice(0, 300));
    checkHeaders('h1 413', rawHeaders(big.text));
    // 429 from the sign-in throttle (a few free failures, then a delay).
    const c = new AddrClient(k, '127.0.0.5');
    let r;
    for (let i = 0; i < 8 && r?.status !== 429; i++) r = await c.post('/api/v1/auth/signin', { email: 'nobody@nowhere.example', password: 'wrong wrong wrong' });
    assert.equal(r.status, 429, r.body);
    assert.ok(Number(r.headers['retry-after']) > 0, 'Retry-After');
    checkHeaders('h1 429 too_many_attempts', r.headers);
    // 429 from the per-address request rate (burst 200): pipelined requests.
    let head = '';
    for (let i = 0; i < 59; i++) head += 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n';
    head += 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
    let limited = '';
    for (let i = 0; i < 10 && !limited; i++) {
      const text = (await rawHttp1(k.port, head, { localAddress: '127.0.0.6' })).text;
      const at = text.indexOf('HTTP/1.1 429');
      if (at >= 0) limited = text.slice(at);
    }
    assert.ok(limited, 'the request rate limit answered 429');
    checkHeaders('h1 429 rate_limited', rawHeaders(limited));
  });

  test('session and participant cookies: __Host-, Secure, HttpOnly, SameSite, Path=/', async () => {
    const email = 'dr.cookie@praktijk-w.example';
    const u = await onboard(k, { org: 'Praktijk W', email });
    await advance(k, 31); // a fresh TOTP step
    const c = new AddrClient(k);
    let r = await c.post('/api/v1/auth/signin', { email, password: PASSWORD });
    assert.equal(r.status, 200);
    const s1 = checkCookie('session after password', sessionCookieOf(r), COOKIE);
    console.log(`session cookie: SameSite=${s1.samesite}`);
    r = await c.post('/api/v1/auth/totp', { code: totp(u.secret, nowOf(k)) });
    assert.equal(r.status, 200, r.body);
    const s2 = checkCookie('session after TOTP', sessionCookieOf(r), COOKIE);
    assert.notEqual(s2.value, s1.value, 'the session id changes with the second factor');
    // The known-device mark, set once the sign-in is complete.
    const dm = (r.headers['set-cookie'] || []).find((x) => x.startsWith('__Host-kamer_device='));
    const d = checkCookie('device mark after TOTP', dm, '__Host-kamer_device');
    assert.match(d.value, /^1\.\d+\.\d+\.[0-9a-f]{32}$/, 'the mark holds an account id, an expiry and a MAC, nothing else');
    r = await c.post('/api/v1/auth/signout', {});
    assert.equal(r.status, 200);
    const cleared = sessionCookieOf(r);
    checkCookie('session cleared at sign-out', cleared, COOKIE);
    assert.match(cleared, /Max-Age=0|Expires=Thu, 01 Jan 1970/i, 'the cleared cookie expires');

    const consult = await createConsult(k, doc.c, [{ email: 'cookie.patient@mail.example', kind: 'patient' }]);
    assert.ok(consult.id);
    const ws = await wsFrom(k);
    const j = await ws.request({ type: 'join', token: tokenFor(k, 'cookie.patient@mail.example') }, 'joined');
    assert.equal(j.type, 'joined', JSON.stringify(j));
    r = await new AddrClient(k).post('/api/v1/participant/cookie', { resume: j.resume });
    assert.equal(r.status, 200, r.body);
    const pc = (r.headers['set-cookie'] || []).find((x) => x.startsWith('__Host-kamer_participant='));
    const p = checkCookie('participant cookie', pc, '__Host-kamer_participant');
    console.log(`participant cookie: SameSite=${p.samesite}`);
    ws.close();
  });

  test('CSRF: a foreign or missing Origin is refused even with a valid session, and changes nothing', async () => {
    const own = `https://localhost:${k.port}`;
    const foreign = [
      ['none', null], ['null', 'null'], ['another site', 'https://evil.example'],
      ['a look-alike host', `https://localhost:${k.port}.evil.example`], ['plain http', `http://localhost:${k.port}`],
      ['another port', `https://localhost:${k.port === 1 ? 2 : k.port - 1}`], ['no port', 'https://localhost'],
      ['a trailing slash', `${own}/`],
    ];
    const before = sql(k, 'SELECT count(*) FROM consults');
    const now = nowOf(k);
    const body = { label: 'csrf', starts_at: now + 60, expires_at: now + 3600, invitees: [{ email: 'csrf.victim@mail.example', kind: 'patient' }] };
    const me = await doc.c.get('/api/v1/auth/me');
    assert.equal(me.status, 200, 'the session is valid');
    for (const [what, origin] of foreign) {
      const extra = { origin, ...(origin === null ? { referer: `${own}/home` } : {}) };
      let r = await doc.c.post('/api/v1/consults', body, extra);
      assert.equal(r.status, 403, `POST /consults, Origin ${what}: ${r.body}`);
      assert.equal(r.json.error.code, 'origin_refused');
      r = await doc.c.call('POST', '/api/v1/consults', JSON.stringify(body), { ...extra, 'content-type': 'text/plain' });
      assert.equal(r.status, 403, `text/plain POST, Origin ${what}`);
      r = await doc.c.post('/api/v1/auth/password', { current: PASSWORD, new: 'another long passphrase 9876' }, extra);
      assert.equal(r.status, 403, `POST /auth/password, Origin ${what}`);
      r = await doc.c.post('/api/v1/auth/signout', {}, extra);
      assert.equal(r.status, 403, `POST /auth/signout, Origin ${what}`);
      r = await doc.c.call('DELETE', '/api/v1/auth/sessions/1', undefined, extra);
      assert.equal(r.status, 403, `DELETE /auth/sessions/1, Origin ${what}`);
    }
    assert.equal(sql(k, 'SELECT count(*) FROM consults'), before, 'no consult was created');
    assert.ok(!sql(k, 'SELECT count(*) FROM invitations WHERE email = \'csrf.victim@mail.example\'').match(/^[1-9]/), 'no invitation');
    assert.equal((await doc.c.get('/api/v1/auth/me')).status, 200, 'still signed in: the sign-out was refused');
    // The same request from kamer's own page works: the refusals were the Origin's doing.
    const ok = await doc.c.post('/api/v1/consults', body, { origin: own });
    assert.equal(ok.status, 201, ok.body);
  });

  test('WSS: upgrades from a foreign or no Origin are refused, with or without a session cookie', async () => {
    const cookie = `${COOKIE}=${doc.c.cookie}`;
    for (const [what, origin] of [['none', null], ['null', 'null'], ['another site', 'https://evil.example'],
      ['plain http', `http://localhost:${k.port}`], ['a look-alike host', `https://localhost:${k.port}.evil.example`]]) {
      for (const ck of [undefined, cookie]) {
        await assert.rejects(wsFrom(k, { origin, cookie: ck }), `WSS with Origin ${what}${ck ? ' and the session cookie' : ''} must be refused`);
      }
    }
    await assert.rejects(wsFrom(k, { path: '/not-ws' }), 'WSS on another path');
    // Kamer's own origin (both spellings) works, and the session is recognised.
    for (const origin of [`https://localhost:${k.port}`, `https://127.0.0.1:${k.port}`]) {
      const ws = await wsFrom(k, { origin, cookie });
      const consults = (await doc.c.get('/api/v1/consults')).json.consults;
      const room = await ws.request({ type: 'watch', consult: consults[0].id }, 'room');
      assert.equal(room.type, 'room', JSON.stringify(room));
      ws.close();
    }
    assert.equal((await httpsFrom(k, '127.0.0.1', 'GET', '/healthz')).status, 200);
  });
});

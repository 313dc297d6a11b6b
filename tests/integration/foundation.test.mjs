// foundation.test.mjs — kamer serve end to end: TLS verified against the
// development CA, security headers, static files, the JSON API's error
// format and limits, WSS error handling, TLS policy, HTTP/2, lifecycle.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import WebSocket from 'ws';
import { freePort, runCli, startKamer, tempDir } from './lib/kamer.mjs';

const SECURITY_HEADERS = {
  'strict-transport-security': /max-age=\d{7,}/,
  'content-security-policy': /frame-ancestors 'none'/,
  'x-content-type-options': /^nosniff$/,
  'referrer-policy': /^no-referrer$/,
};

function assertSecurityHeaders(res, what) {
  for (const [h, re] of Object.entries(SECURITY_HEADERS)) assert.match(res.headers[h] || '', re, `${what}: header ${h}`);
  const csp = res.headers['content-security-policy'];
  assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), `${what}: CSP must not allow inline script or eval`);
  assert.match(csp, /script-src 'self'/);
}

function wsOpen(k, urlPath = '/ws', origin = `https://localhost:${k.port}`) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://localhost:${k.port}${urlPath}`, { ca: k.ca, handshakeTimeout: 5000, ...(origin === null ? {} : { origin }) });
    const queue = [];
    const waiters = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      if (waiters.length) waiters.shift()(m); else queue.push(m);
    });
    ws.next = () => new Promise((res, rej) => {
      if (queue.length) return res(queue.shift());
      const t = setTimeout(() => rej(new Error('no message within 5 s')), 5000);
      waiters.push((m) => { clearTimeout(t); res(m); });
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

function tlsTry(port, ca, options) {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options });
    const t = setTimeout(() => { s.destroy(); resolve({ ok: false, code: 'TIMEOUT' }); }, 5000);
    s.once('secureConnect', () => {
      clearTimeout(t);
      const r = { ok: true, protocol: s.getProtocol(), cipher: s.getCipher().name, alpn: s.alpnProtocol };
      s.end();
      resolve(r);
    });
    s.once('error', (e) => { clearTimeout(t); resolve({ ok: false, code: e.code, message: e.message }); });
  });
}

describe('kamer serve', () => {
  let k;
  before(async () => { k = await startKamer(); });
  after(async () => { if (k) await k.stop(); });

  test('makes a development CA and certificate, keys 0600', () => {
    for (const f of ['dev-ca.key', 'server.key']) {
      const mode = fs.statSync(path.join(k.dataDir, 'certs', f)).mode & 0o777;
      assert.equal(mode, 0o600, `${f} mode`);
    }
    const dbMode = fs.statSync(path.join(k.dataDir, 'kamer.db')).mode & 0o777;
    assert.equal(dbMode, 0o600, 'database mode');
    assert.equal(fs.statSync(k.dataDir).mode & 0o777, 0o700, 'data folder mode');
    assert.ok(fs.statSync(path.join(k.dataDir, 'outbox')).isDirectory());
  });

  test('/healthz answers over TLS verified against the development CA', async () => {
    const r = await k.req('GET', '/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
    assert.equal(typeof r.json.schema, 'number');
    assertSecurityHeaders(r, '/healthz');
    assert.equal(r.headers['cache-control'], 'no-store');
  });

  test('a client that does not trust the CA is refused by its own check', async () => {
    const r = await tlsTry(k.port, undefined, {});
    assert.equal(r.ok, false);
    assert.match(r.code, /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/);
  });

  test('static files with their MIME types and security headers', async () => {
    const cases = [
      ['/', /^text\/html/],
      ['/style.css', /^text\/css/],
      ['/start.js', /^text\/javascript/],
      ['/i18n/nl.json', /^application\/json/],
    ];
    for (const [p, type] of cases) {
      const r = await k.req('GET', p);
      assert.equal(r.status, 200, p);
      assert.match(r.headers['content-type'], type, p);
      assertSecurityHeaders(r, p);
    }
    const index = await k.req('GET', '/');
    assert.match(index.body, /<script type="module" src="\/start.js">/);
    assert.ok(!/<script>[^<]/.test(index.body), 'no inline script');
  });

  test('unknown paths, traversal and hidden files give 404 in the error format', async () => {
    for (const p of ['/nope.html', '/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/.git/config', '/i18n/../../Makefile', '/api/v1/nothing']) {
      const r = await k.req('GET', p);
      assert.equal(r.status, 404, p);
      assert.equal(r.json?.error?.code, 'not_found', p);
      assert.equal(typeof r.json.error.message, 'string');
      assertSecurityHeaders(r, p);
    }
  });

  test('the join page is served for /j/TOKEN and the token stays out of the log', async () => {
    const token = 'T0kenThatMustNeverBeLogged_abcdefghijklmnopqrst';
    const r = await k.req('GET', `/j/${token}`);
    assert.equal(r.status, fs.existsSync('web/join.html') ? 200 : 404);
    assert.match(k.log(), /path="\/j\/-"/, 'the request is logged with the token cut');
    assert.ok(!k.log().includes(token), 'token must not appear in the log');
  });

  test('API errors: invalid JSON, wrong shape, body too large, method', async () => {
    let r = await k.req('POST', '/api/v1/test/probe', '{"key": ');
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'invalid_json');
    r = await k.req('POST', '/api/v1/test/probe', '[1,2]');
    assert.equal(r.json.error.code, 'invalid_body');
    r = await k.req('POST', '/api/v1/test/probe', { key: 'a', value: 'b', extra: 1 });
    assert.equal(r.status, 400);
    r = await k.req('POST', '/api/v1/test/probe', { key: 'a', value: 'x'.repeat(100 * 1024) });
    assert.equal(r.status, 413);
    assert.equal(r.json.error.code, 'body_too_large');
    r = await k.req('POST', '/healthz', '{}');
    assert.equal(r.status, 405);
    r = await k.req('POST', '/api/v1/test/probe', { key: 'k1', value: 'v1' });
    assert.equal(r.status, 201);
    r = await k.req('POST', '/api/v1/test/probe', { key: 'k1', value: 'v2' });
    assert.equal(r.status, 409);
    r = await k.req('GET', '/api/v1/test/probe/k1');
    assert.deepEqual(r.json, { key: 'k1', value: 'v1' });
  });

  test('a header block over http_max_header is refused, not served', async () => {
    const r = await new Promise((resolve) => {
      const sock = tls.connect({ host: '127.0.0.1', port: k.port, ca: k.ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
      let data = '';
      const t = setTimeout(() => { sock.destroy(); resolve({ data, timeout: true }); }, 5000);
      sock.on('secureConnect', () => sock.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`));
      sock.on('data', (d) => { data += d; });
      sock.on('close', () => { clearTimeout(t); resolve({ data, timeout: false }); });
      sock.on('error', () => {});
    });
    assert.equal(r.timeout, false, 'the connection is closed');
    assert.ok(!/^HTTP\/1\.1 200/.test(r.data), 'the request was not served');
    const ok = await k.req('GET', '/healthz');
    assert.equal(ok.status, 200, 'the server is fine afterwards');
  });

  test('WSS: invalid JSON, unknown type, oversized frame each get an error; the connection stays usable', async () => {
    const ws = await wsOpen(k);
    assert.equal((await ws.next()).type, 'hello');
    ws.send('{not json');
    let m = await ws.next();
    assert.deepEqual([m.type, m.code], ['error', 'invalid_json']);
    ws.send(JSON.stringify({ type: 'no-such-type', ref: 'r1' }));
    m = await ws.next();
    assert.deepEqual([m.type, m.code, m.ref], ['error', 'unknown_type', 'r1']);
    ws.send(JSON.stringify({ nope: 1 }));
    m = await ws.next();
    assert.equal(m.code, 'missing_type');
    ws.send('[1]');
    m = await ws.next();
    assert.equal(m.code, 'invalid_message');
    ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(70 * 1024) }));
    m = await ws.next();
    assert.deepEqual([m.type, m.code], ['error', 'too_large']);
    ws.send(JSON.stringify({ type: 'ping', ref: 'after' }));
    m = await ws.next();
    assert.deepEqual([m.type, m.ref], ['pong', 'after']);
    ws.close();
  });

  test('WSS upgrades are refused on other paths and from other origins', async () => {
    await assert.rejects(wsOpen(k, '/not-ws'));
    await assert.rejects(wsOpen(k, '/ws', 'https://evil.example'));
    await assert.rejects(wsOpen(k, '/ws', null), 'no Origin header');
    const ws = await wsOpen(k, '/ws');
    ws.close();
  });

  test('TLS 1.1 and a non-AEAD cipher are refused; TLS 1.2 AEAD and TLS 1.3 work', async () => {
    const weak = { ciphers: 'DEFAULT:@SECLEVEL=0' };
    const t11 = await tlsTry(k.port, k.ca, { ...weak, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' });
    assert.equal(t11.ok, false);
    assert.match(t11.code, /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|VERSION/, `TLS 1.1: ${t11.code} ${t11.message}`);
    const cbc = await tlsTry(k.port, k.ca, { ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0', maxVersion: 'TLSv1.2' });
    assert.equal(cbc.ok, false);
    assert.match(cbc.code, /HANDSHAKE_FAILURE|NO_SHARED_CIPHER/, `CBC: ${cbc.code} ${cbc.message}`);
    const plainRsa = await tlsTry(k.port, k.ca, { ciphers: 'AES256-GCM-SHA384', maxVersion: 'TLSv1.2' });
    assert.equal(plainRsa.ok, false, 'static RSA key exchange (no forward secrecy) must be refused');
    const t12 = await tlsTry(k.port, k.ca, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    assert.equal(t12.ok, true, JSON.stringify(t12));
    assert.match(t12.cipher, /^ECDHE-.*(GCM|CHACHA20)/);
    const t13 = await tlsTry(k.port, k.ca, { minVersion: 'TLSv1.3' });
    assert.equal(t13.ok, true);
    assert.equal(t13.protocol, 'TLSv1.3');
  });

  test('HTTP/2 is negotiated and serves with the same headers', async () => {
    const alpn = await tlsTry(k.port, k.ca, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(alpn.alpn, 'h2');
    const client = http2.connect(`https://localhost:${k.port}`, { ca: k.ca });
    try {
      const res = await new Promise((resolve, reject) => {
        const r = client.request({ ':path': '/healthz' });
        let body = '';
        let headers;
        r.on('response', (h) => { headers = h; });
        r.on('data', (c) => { body += c; });
        r.on('end', () => resolve({ headers, body }));
        r.on('error', reject);
        r.setTimeout(5000, () => reject(new Error('h2 timeout')));
      });
      assert.equal(res.headers[':status'], 200);
      assert.equal(JSON.parse(res.body).status, 'ok');
      assert.match(res.headers['strict-transport-security'], /max-age/);
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
    } finally {
      client.close();
    }
  });

  test('a port that is taken is refused with a clear message', async () => {
    const r = runCli(['serve', '--data', tempDir(), '--listen', `127.0.0.1:${k.port}`]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /already in use/);
  });
});

describe('lifecycle and configuration', () => {
  test('SIGTERM stops within 5 s, exit 0, WAL checkpointed', async () => {
    const k = await startKamer();
    const r0 = await k.req('POST', '/api/v1/test/probe', { key: 'before-stop', value: 'v' });
    assert.equal(r0.status, 201);
    const s = await k.stop('SIGTERM');
    assert.equal(s.code, 0, JSON.stringify(s));
    assert.ok(s.ms < 5000, `stopped in ${s.ms} ms`);
    const wal = path.join(k.dataDir, 'kamer.db-wal');
    assert.ok(!fs.existsSync(wal) || fs.statSync(wal).size === 0, 'WAL must be checkpointed');
    // Certificates are reused on the next start.
    const before = fs.readFileSync(path.join(k.dataDir, 'certs', 'server.pem'), 'utf8');
    const k2 = await startKamer({ dataDir: k.dataDir });
    assert.equal(fs.readFileSync(path.join(k.dataDir, 'certs', 'server.pem'), 'utf8'), before);
    const r = await k2.req('GET', '/api/v1/test/probe/before-stop');
    assert.equal(r.json.value, 'v');
    assert.equal((await k2.stop('SIGINT')).code, 0);
  });

  test('rate limit per IP answers 429 with Retry-After', async () => {
    const k = await startKamer({ env: { KAMER_HTTP_RATE_PER_SEC: '1', KAMER_HTTP_RATE_BURST: '8' } });
    try {
      const statuses = [];
      for (let i = 0; i < 12; i++) statuses.push((await k.req('GET', '/api/v1/version')).status);
      assert.ok(statuses.includes(429), statuses.join(','));
      const last = await k.req('GET', '/api/v1/version');
      assert.equal(last.status, 429);
      assert.equal(last.json.error.code, 'rate_limited');
      assert.ok(Number(last.headers['retry-after']) >= 1);
    } finally {
      await k.stop();
    }
  });

  test('connections per IP are capped', async () => {
    const k = await startKamer({ env: { KAMER_MAX_CONNECTIONS_PER_IP: '4' } });
    const socks = [];
    try {
      for (let i = 0; i < 4; i++) {
        const s = net.connect(k.port, '127.0.0.1');
        await new Promise((r) => s.once('connect', r));
        socks.push(s);
      }
      const extra = net.connect(k.port, '127.0.0.1');
      const closed = await new Promise((resolve) => {
        const t = setTimeout(() => resolve(false), 10000);
        extra.once('close', () => { clearTimeout(t); resolve(true); });
        extra.once('error', () => {});
      });
      assert.ok(closed, 'the fifth connection must be closed by the server');
      for (const s of socks) s.destroy();
      await new Promise((r) => setTimeout(r, 300));
      const ok = await k.req('GET', '/healthz');
      assert.equal(ok.status, 200, 'counts are released when connections close');
    } finally {
      for (const s of socks) s.destroy();
      await k.stop();
    }
  });

  test('invalid configuration is refused with key, value and reason', () => {
    let r = runCli(['config', 'check', '--data', tempDir(), '--listen', '127.0.0.1:99999']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /listen = "127\.0\.0\.1:99999": port must be/);
    r = runCli(['config', 'check', '--data', tempDir()], { KAMER_LOG_LEVEL: 'loud' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /KAMER_LOG_LEVEL: log_level = "loud"/);
    const d = tempDir();
    fs.writeFileSync(path.join(d, 'kamer.conf'), '# test\nhttp_max_body = 12abc\n');
    r = runCli(['config', 'check', '--data', d]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /kamer\.conf:2: http_max_body = "12abc": not a whole number/);
    fs.writeFileSync(path.join(d, 'kamer.conf'), 'listen = 127.0.0.1:9443\nno_such_key = 1\n');
    r = runCli(['config', 'check', '--data', d]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /kamer\.conf:2: unknown key "no_such_key"/);
    fs.writeFileSync(path.join(d, 'kamer.conf'), 'listen = 127.0.0.1:9443\n');
    r = runCli(['config', 'check', '--data', d]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /listen = "127\.0\.0\.1:9443"/);
    r = runCli(['serve', '--data', d, '--tls-cert', 'x']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown or incomplete option '--tls-cert'/);
    r = runCli(['config', 'check', '--data', d], { KAMER_TLS_CERT: '/nonexistent.pem' });
    assert.equal(r.status, 2, 'tls_cert without tls_key');
  });

  test('every configuration key is documented', () => {
    const r = runCli(['config', 'check', '--data', tempDir()]);
    assert.equal(r.status, 0, r.stderr);
    const doc = fs.readFileSync('docs/configuration.md', 'utf8');
    const keys = r.stdout.split('\n').filter(Boolean).map((l) => l.split(' = ')[0]);
    assert.ok(keys.length >= 15);
    for (const key of keys) assert.ok(doc.includes(`| \`${key}\` |`), `docs/configuration.md documents ${key}`);
  });

  test('production certificate paths are checked at start', async () => {
    const d = tempDir();
    const r = runCli(['serve', '--data', d, '--listen', `127.0.0.1:${await freePort()}`], {
      KAMER_TLS_CERT: '/nonexistent/cert.pem', KAMER_TLS_KEY: '/nonexistent/key.pem',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /tls_cert\/tls_key refused: .*nonexistent/);
  });

  test('an unwritable data folder is refused', () => {
    const f = path.join(tempDir(), 'a-file');
    fs.writeFileSync(f, 'x');
    const r = runCli(['serve', '--data', path.join(f, 'sub')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot create .*a-file\/sub|not a folder/);
  });

  test('--help on each command, unknown flags exit 2', () => {
    for (const args of [['--help'], ['serve', '--help'], ['config', 'check', '--help'], ['version', '--help']]) {
      const r = runCli(args);
      assert.equal(r.status, 0, args.join(' '));
      assert.match(r.stdout, /Usage/);
    }
    assert.equal(runCli(['serve', '--bogus']).status, 2);
    assert.equal(runCli(['nonsense']).status, 2);
    assert.match(runCli(['version']).stdout, /^kamer \d+\.\d+\.\d+/);
  });
});

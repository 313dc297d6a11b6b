// net.mjs — low-level clients for the hostile tests: raw HTTP/1.1 over TLS
// (the bytes exactly as given), HTTP/2 requests with any :path and header,
// HTTPS requests and WSS connections from a chosen 127.x source address and
// with any (or no) Origin. Every wait is bounded; nothing here retries.
import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import WebSocket from 'ws';
import { COOKIE } from '../../integration/lib/client.mjs';

// The status code of a raw HTTP/1.1 answer, or 0 if none arrived.
export const statusOf = (text) => Number((text.match(/^HTTP\/1\.[01] (\d{3})/) || [0, 0])[1]);

// Sends head (a string or Buffer) over one TLS connection (ALPN http/1.1),
// then, if body is given, the body in chunks while the server keeps reading.
// Resolves {text, status, how, sent}: what came back, its status (0: none),
// how the connection ended ('end', 'close', 'timeout', 'error CODE') and
// how many body bytes were written before it ended.
export function rawHttp1(port, head, { body, timeout = 8000, localAddress, chunk = 65536 } = {}) {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'], localAddress });
    const got = [];
    let sent = 0, done = false;
    const finish = (how) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const text = Buffer.concat(got).toString('latin1');
      resolve({ text, status: statusOf(text), how, sent });
    };
    const timer = setTimeout(() => finish('timeout'), timeout);
    const pump = () => {
      while (!done && body && sent < body.length) {
        const n = Math.min(chunk, body.length - sent);
        const more = s.write(body.subarray(sent, sent + n));
        sent += n;
        if (!more) return s.once('drain', pump);
      }
    };
    s.on('secureConnect', () => { s.write(head); pump(); });
    s.on('data', (d) => got.push(d));
    s.on('end', () => finish('end'));
    s.on('close', () => finish('close'));
    s.on('error', (e) => finish(`error ${e.code || e.message}`));
  });
}

// One HTTP/2 request on a new connection. headers may set :path and
// :method. Resolves {status, headers, body, err} (status 0: no answer).
export function h2Request(k, headers, body, { timeout = 8000 } = {}) {
  return new Promise((resolve) => {
    const out = { status: 0, headers: {}, body: '', err: '' };
    let done = false;
    const s = http2.connect(`https://localhost:${k.port}`, { ca: k.ca, maxSendHeaderBlockLength: 1 << 21 });
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) out.err = err;
      s.destroy();
      resolve(out);
    };
    const timer = setTimeout(() => finish('timeout'), timeout);
    s.on('error', (e) => finish(`session ${e.code || e.message}`));
    const rq = s.request({ ':path': '/', ...headers });
    rq.on('response', (h) => { out.status = h[':status']; out.headers = h; });
    rq.on('data', (d) => { out.body += d; });
    rq.on('end', () => finish(''));
    rq.on('close', () => finish(out.status ? '' : `stream closed (code ${rq.rstCode})`));
    rq.on('error', (e) => finish(`stream ${e.code || e.message}`));
    if (body !== undefined) rq.end(body); else rq.end();
  });
}

// Like the integration tests' request(), from source address localAddress;
// a new connection per request unless an https.Agent is given.
export function httpsFrom(k, localAddress, method, urlPath, body, extraHeaders = {}, agent = false) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const req = https.request({
      host: '127.0.0.1', port: k.port, method, path: urlPath, ca: k.ca, servername: 'localhost', agent, localAddress,
      headers: { ...(data !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}), ...extraHeaders },
      timeout: 15000,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// A browser-like API client (kamer's Origin, the session cookie) whose
// connections come from localAddress (default 127.0.0.1). keepAlive: one
// connection for all its requests, as a browser would (close() ends it);
// otherwise a new connection per request.
export class AddrClient {
  constructor(k, localAddress = '127.0.0.1', { keepAlive = false } = {}) {
    this.k = k;
    this.addr = localAddress;
    this.jar = new Map(); // every cookie kamer set (the session, the device mark)
    this.setCookies = [];
    this.agent = keepAlive ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : false;
  }

  get cookie() { return this.jar.get(COOKIE) || ''; }

  close() { if (this.agent) this.agent.destroy(); }

  async call(method, path, body, extra = {}) {
    const headers = { origin: `https://localhost:${this.k.port}`, 'user-agent': 'kamer-hostile-test', ...extra };
    if (headers.origin === null) delete headers.origin;
    if (this.jar.size && !headers.cookie) headers.cookie = [...this.jar].map(([n, v]) => `${n}=${v}`).join('; ');
    const r = await httpsFrom(this.k, this.addr, method, path, body, headers, this.agent);
    for (const c of r.headers['set-cookie'] || []) {
      this.setCookies.push(c);
      const m = c.match(/^([^=;\s]+)=([^;]*)/);
      if (!m) continue;
      if (m[2] === '' || /Max-Age=0/i.test(c)) this.jar.delete(m[1]);
      else this.jar.set(m[1], m[2]);
    }
    return r;
  }

  get = (p, extra) => this.call('GET', p, undefined, extra);
  post = (p, b = {}, extra) => this.call('POST', p, b, extra);
}

// Opens wss://localhost:PORT/ws from localAddress. origin: a string, or
// null for no Origin header (default: kamer's own). Resolves with the
// socket once kamer's hello arrived (with waitFor/type/request as in the
// integration tests' ws.mjs); rejects with the upgrade's failure.
export function wsFrom(k, { localAddress = '127.0.0.1', origin, cookie, path = '/ws' } = {}) {
  return new Promise((resolve, reject) => {
    const opts = { ca: k.ca, handshakeTimeout: 5000, localAddress, headers: cookie ? { cookie } : {} };
    if (origin !== null) opts.origin = origin || `https://localhost:${k.port}`;
    const ws = new WebSocket(`wss://localhost:${k.port}${path}`, opts);
    const queue = [];
    const waiters = [];
    ws.on('message', (d) => {
      let m;
      try { m = JSON.parse(d.toString()); } catch { m = { type: '(not json)' }; }
      const i = waiters.findIndex((w) => w.match(m));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(m); else queue.push(m);
    });
    ws.waitFor = (match, ms = 5000) => new Promise((res, rej) => {
      const i = queue.findIndex(match);
      if (i >= 0) return res(queue.splice(i, 1)[0]);
      const w = { match, resolve: (m) => { clearTimeout(t); res(m); } };
      const t = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); rej(new Error(`no matching message within ${ms} ms`)); }, ms);
      waiters.push(w);
    });
    ws.type = (type, ms) => ws.waitFor((m) => m.type === type, ms);
    ws.sendJson = (o) => ws.send(JSON.stringify(o));
    ws.request = (o, type, ms) => { ws.sendJson(o); return ws.waitFor((m) => m.type === type || m.type === 'error', ms); };
    ws.on('unexpected-response', (req, res) => { reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)); ws.terminate(); });
    ws.once('error', (e) => reject(e));
    ws.once('close', () => reject(new Error('closed before hello')));
    ws.once('open', async () => {
      try { await ws.type('hello'); resolve(ws); } catch (e) { ws.terminate(); reject(e); }
    });
  });
}

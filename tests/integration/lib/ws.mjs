// ws.mjs — a WSS client for tests that queues incoming messages, with
// bounded waits for the next message or one of a given type.
import WebSocket from 'ws';

export function wsConnect(k, { cookie, origin, autoPong = true } = {}) {
  return new Promise((resolve, reject) => {
    const headers = cookie ? { cookie } : {};
    const ws = new WebSocket(`wss://localhost:${k.port}/ws`, {
      ca: k.ca, handshakeTimeout: 5000, origin: origin || `https://localhost:${k.port}`, headers, autoPong,
    });
    const queue = [];
    const waiters = [];
    ws.closed = false;
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      const i = waiters.findIndex((w) => w.match(m));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(m); else queue.push(m);
    });
    ws.on('close', () => { ws.closed = true; });
    // Resolves with the first queued or future message for which match is true.
    ws.waitFor = (match, ms = 5000) => new Promise((res, rej) => {
      const i = queue.findIndex(match);
      if (i >= 0) return res(queue.splice(i, 1)[0]);
      const w = { match, resolve: (m) => { clearTimeout(t); res(m); } };
      const t = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); rej(new Error(`no matching message within ${ms} ms; queued: ${JSON.stringify(queue)}`)); }, ms);
      waiters.push(w);
    });
    ws.type = (type, ms) => ws.waitFor((m) => m.type === type, ms);
    ws.sendJson = (o) => ws.send(JSON.stringify(o));
    ws.request = async (o, type) => { ws.sendJson(o); return ws.waitFor((m) => m.type === type || m.type === 'error'); };
    ws.once('open', () => { ws.type('hello').then(() => resolve(ws), reject); });
    ws.once('error', reject);
  });
}

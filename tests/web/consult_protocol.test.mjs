// consult_protocol.test.mjs — web/consult-protocol.js with a fake WebSocket
// and fake timers: greeting after hello, queued sends, dispatch by type,
// reconnect with backoff and resume greeting, bounded retries, close().
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoff, connect } from '../../web/consult-protocol.js';

function fakes() {
  const sockets = [];
  class FakeWS {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 0;
      sockets.push(this);
    }
    send(s) { this.sent.push(JSON.parse(s)); }
    close() { this.readyState = 3; }
    // test side
    hello() { this.readyState = 1; this.onmessage({ data: JSON.stringify({ type: 'hello', protocol: 1 }) }); }
    msg(o) { this.onmessage({ data: JSON.stringify(o) }); }
    drop() { this.readyState = 3; this.onclose({}); }
  }
  const timers = {
    pending: [],
    setTimeout(fn, ms) { this.pending.push({ fn, ms }); return this.pending.length; },
    clearTimeout() { this.pending = []; },
    setInterval() { return 0; },
    clearInterval() {},
    fire() { const p = this.pending; this.pending = []; p.forEach((t) => t.fn()); return p.map((t) => t.ms); },
  };
  return { sockets, FakeWS, timers };
}

test('backoff grows, is capped and jittered', () => {
  assert.equal(backoff(1, { base: 500, random: () => 0 }), 500);
  assert.equal(backoff(3, { base: 500, random: () => 0 }), 2000);
  assert.equal(backoff(20, { base: 500, max: 15000, random: () => 0 }), 15000);
  assert.equal(backoff(1, { base: 400, random: () => 0.999 }), 500);
});

test('greeting first, then queued messages; dispatch by type and *', () => {
  const { sockets, FakeWS, timers } = fakes();
  const c = connect({ url: 'wss://x/ws', WebSocketImpl: FakeWS, timers, greeting: (again) => ({ type: again ? 'resume' : 'join', token: 't' }) });
  assert.equal(c.status, 'connecting');
  c.send({ type: 'chat', text: 'early' });
  assert.deepEqual(sockets[0].sent, []);
  sockets[0].hello();
  assert.equal(c.status, 'open');
  assert.deepEqual(sockets[0].sent.map((m) => m.type), ['join', 'chat']);
  const got = [];
  c.on('chat', (m) => got.push(['chat', m.text]));
  c.on('*', (m) => got.push(['*', m.type]));
  sockets[0].msg({ type: 'chat', text: 'hi' });
  sockets[0].msg({ type: 'state', state: 'waiting' });
  assert.deepEqual(got, [['chat', 'hi'], ['*', 'chat'], ['*', 'state']]);
  c.send({ type: 'ping' });
  assert.equal(sockets[0].sent.at(-1).type, 'ping');
});

test('a drop reconnects with backoff and greets as a reconnect', () => {
  const { sockets, FakeWS, timers } = fakes();
  const statuses = [];
  const c = connect({ url: 'wss://x/ws', WebSocketImpl: FakeWS, timers, random: () => 0, greeting: (again) => ({ type: again ? 'resume' : 'join' }) });
  c.onStatus((s, info) => statuses.push([s, info.attempt]));
  sockets[0].hello();
  sockets[0].drop();
  assert.equal(c.status, 'reconnecting');
  c.send({ type: 'chat', text: 'while away' });
  assert.deepEqual(timers.fire(), [500]);
  sockets[1].drop(); // the first retry fails too
  assert.deepEqual(timers.fire(), [1000]);
  sockets[2].hello();
  assert.deepEqual(sockets[2].sent.map((m) => m.type), ['resume', 'chat']);
  assert.deepEqual(statuses, [['open', undefined], ['reconnecting', 1], ['reconnecting', 2], ['open', undefined]]);
});

test('retries are bounded; retry() starts over; close() stops for good', () => {
  const { sockets, FakeWS, timers } = fakes();
  const c = connect({ url: 'wss://x/ws', WebSocketImpl: FakeWS, timers, retries: 2, random: () => 0 });
  sockets[0].hello();
  sockets[0].drop();
  timers.fire();
  sockets[1].drop();
  timers.fire();
  sockets[2].drop();
  assert.equal(c.status, 'failed');
  assert.equal(timers.pending.length, 0);
  c.retry();
  assert.equal(c.status, 'reconnecting');
  timers.fire();
  sockets[3].hello();
  assert.equal(c.status, 'open');
  c.close();
  assert.equal(c.status, 'closed');
  sockets[3].onclose({});
  assert.equal(sockets.length, 4, 'no reconnect after close()');
  assert.equal(c.send({ type: 'chat' }), false);
});

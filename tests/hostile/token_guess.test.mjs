// token_guess.test.mjs — guessing consult links over WSS, bounded. kamer's
// rule (docs/security.md, signaling/consult.c): after 20 failed tokens from
// an address in 10 minutes (a bucket refilled at one per 30 s), that
// address's joins are refused without the token being looked up. Measured:
// 10,000 random tokens from 127.0.0.1 over 16 connections within the
// per-connection message rate; how many were actually looked up (kamer logs
// each looked-up failure as consult join_refused); that a valid token from
// the guessing address is then refused too (proof that nothing is checked);
// and that the same valid token from 127.0.0.2 still joins.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startKamer } from '../integration/lib/kamer.mjs';
import { createConsult, makeOrg, onboard, tokenFor } from './lib/flow.mjs';
import { wsFrom } from './lib/net.mjs';

const GUESSES = 10000;
const CONNECTIONS = 16;
const TICK = 30; // ms between two messages of one connection: 33 a second, kamer allows 50
let k, doc;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The log shows addresses as their /24 and a per-run tag (never whole):
// only the guessing address fails look-ups here, so its /24 counts them.
const net24 = (ip) => `${ip.split('.').slice(0, 3).join('.')}.0/24~`;
const lookedUp = (ip) => k.log().split('\n').filter((l) => l.includes('event=join_refused') && l.includes(`ip=${net24(ip)}`)).length;

describe('consult token guessing', () => {
  before(async () => {
    k = await startKamer();
    makeOrg(k, 'Praktijk T');
    doc = await onboard(k, { org: 'Praktijk T', email: 'dr.t@praktijk-t.example' });
  });
  after(async () => { if (k) await k.stop(); });

  test(`${GUESSES} guessed tokens: refused unchecked after the limit; a valid token from another address joins`, { timeout: 120000 }, async () => {
    const consult = await createConsult(k, doc.c, [{ email: 'guess.target@mail.example', kind: 'patient' }]);
    assert.ok(consult.id);
    const valid = tokenFor(k, 'guess.target@mail.example');

    const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, () => wsFrom(k, { localAddress: '127.0.0.1' })));
    const answers = {};
    const t0 = Date.now();
    const pending = [];
    let sent = 0;
    // Evenly paced (one message per connection every TICK ms), so that no
    // second of any connection holds more than kamer's 50 messages.
    for (let tick = 0; sent < GUESSES; tick++) {
      for (const ws of sockets) {
        if (sent >= GUESSES) break;
        pending.push(ws.request({ type: 'join', token: crypto.randomBytes(32).toString('base64url') }, 'joined', 20000));
        sent++;
      }
      await sleep(Math.max(0, (tick + 1) * TICK - (Date.now() - t0)));
    }
    for (const m of await Promise.all(pending)) {
      const key = m.type === 'error' ? m.code : m.type;
      answers[key] = (answers[key] || 0) + 1;
    }
    const seconds = (Date.now() - t0) / 1000;
    await sleep(200);
    const checked = lookedUp('127.0.0.1');
    const allowed = 20 + Math.floor(seconds / 30) + 1;
    console.log(`${sent} guessed tokens in ${seconds.toFixed(1)} s over ${CONNECTIONS} connections from 127.0.0.1: answers ${JSON.stringify(answers)}; ` +
      `${checked} looked up, ${sent - checked} refused without a look-up (the limit allows ${allowed} in that time)`);
    assert.equal(answers.link_invalid, GUESSES, 'every guess got the one neutral answer');
    assert.ok(checked >= 1 && checked <= allowed, `looked up ${checked}, allowed ${allowed}`);

    // The valid token from the guessing address: refused, so it was not even looked up.
    const m = await sockets[0].request({ type: 'join', token: valid }, 'joined');
    assert.deepEqual([m.type, m.code], ['error', 'link_invalid'], 'the guessing address is refused even with a valid token');
    assert.equal(lookedUp('127.0.0.1'), checked, 'and nothing more was looked up');
    for (const ws of sockets) ws.close();

    // Another address: the same token joins.
    const ws2 = await wsFrom(k, { localAddress: '127.0.0.2' });
    const j = await ws2.request({ type: 'join', token: valid }, 'joined');
    assert.equal(j.type, 'joined', `a valid token from 127.0.0.2 joins: ${JSON.stringify(j)}`);
    assert.equal(j.participant.state, 'consent');
    ws2.close();
    assert.equal(k.exited(), null, 'kamer is still running');
  });
});

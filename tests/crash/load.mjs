// load.mjs — the crash test's mixed write load and its bookkeeping: an
// admin creating accounts, clinicians creating consults, patients joining,
// consenting, naming themselves and being admitted over WSS, chat both ways,
// and test-probe writes. Every write the server acknowledged is recorded in
// a Ledger (with the trial it belongs to); attempts are recorded too, so
// that the checks can tell "unacknowledged" from "never tried".
// What counts as an acknowledgement (docs/api.md, docs/protocol.md):
//   account   POST /admin/users -> 201 {id}
//   consult   POST /consults -> 201 CONSULT (its invitation emailed)
//   join      WSS join -> "joined" (a participant row)
//   consent   WSS consent -> "state" name (consent record, audit row)
//   name      WSS name -> "state" waiting
//   admit     WSS admit by the clinician -> the patient's "state" admitted
//   chat      WSS chat -> the sender's own copy of the "chat" message
//   probe     POST /test/probe -> 201
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import assert from 'node:assert/strict';
import { Client, COOKIE, totp } from '../integration/lib/client.mjs';
import { wsConnect } from '../integration/lib/ws.mjs';

const PASSWORD = 'correct horse battery staple 42';

// Sets a password and TOTP for the account of a set-up token (from the
// CLI's or the admin API's set-up link); returns the signed-in Client.
export async function signUp(k, token, email) {
  const c = new Client(k);
  assert.equal((await c.post('/api/v1/auth/setup', { token, password: PASSWORD })).status, 200);
  assert.equal((await c.post('/api/v1/auth/signin', { email, password: PASSWORD })).status, 200);
  const secret = (await c.post('/api/v1/auth/enrol/start', {})).json.secret;
  assert.equal((await c.post('/api/v1/auth/enrol/confirm', { code: totp(secret, Math.floor(Date.now() / 1000)) })).status, 200);
  return c;
}

export const KINDS = ['account', 'consult', 'join', 'consent', 'name', 'admit', 'chat', 'probe'];

export class Ledger {
  constructor() {
    this.users = new Map();      // id -> {email, trial}
    this.userTries = new Set();  // every email tried
    this.consults = new Map();   // id -> {label, doc, emails, trial, parts: [], chats: []}
    this.consultTries = new Map(); // label -> number of invitees tried
    this.probes = new Map();     // key -> {value, trial}
    this.counts = Object.fromEntries(KINDS.map((k) => [k, 0]));
    this.problems = [];          // unexpected answers while the server was alive
  }

  ack(kind) { this.counts[kind]++; }
}

// Outbox index: the invitation token for an address, reading only the
// .eml files not read before (the outbox grows to thousands of files).
export class Outbox {
  constructor(dataDir) {
    this.dir = path.join(dataDir, 'outbox');
    this.seen = new Set();
    this.tokens = new Map();
  }

  token(email) {
    if (!this.tokens.has(email)) this.scan();
    return this.tokens.get(email);
  }

  scan() {
    let names = [];
    try { names = fs.readdirSync(this.dir); } catch { return; }
    for (const f of names) {
      if (this.seen.has(f) || !f.endsWith('.eml')) continue;
      let m;
      try { m = fs.readFileSync(path.join(this.dir, f), 'utf8'); } catch { continue; }
      this.seen.add(f);
      const to = m.match(/^To: (\S+)/m);
      const link = m.replace(/=\r?\n/g, '').match(/\/j\/([A-Za-z0-9_-]{43})/);
      if (to && link) this.tokens.set(to[1], link[1]);
    }
  }
}

class Killed extends Error {}

// One trial's load against server k. stop() ends it (call it right after
// the kill -9); done resolves when every writer has returned.
export function startLoad({ k, trial, ledger, outbox, admin, docs, probeAgent, maxProbes = 100 }) {
  let dead = false;
  let kill;
  const killed = new Promise((_, rej) => { kill = rej; });
  killed.catch(() => {});
  // Resolves as p does, or rejects at once when the trial is stopped.
  const guard = (p) => Promise.race([p, killed]);
  const unexpected = (what, detail) => {
    if (!dead) ledger.problems.push(`trial ${trial}: ${what}: ${String(detail).slice(0, 300)}`);
  };
  const sockets = [];
  const socket = async (opts) => {
    const ws = await guard(wsConnect(k, opts));
    ws.on('error', () => {});
    sockets.push(ws);
    return ws;
  };

  async function accounts() {
    for (let n = 1; !dead; n++) {
      const email = `u-t${trial}-${n}@crash.example`;
      ledger.userTries.add(email);
      const r = await guard(admin.post('/api/v1/admin/users', { email, role: 'clinician' }));
      if (r.status !== 201) { unexpected('account', `${r.status} ${r.body}`); return; }
      ledger.users.set(r.json.id, { email, trial });
      ledger.ack('account');
    }
  }

  async function probes() {
    for (let n = 1; !dead && n <= maxProbes; n++) {
      const key = `t${trial}-p${n}`;
      const value = `v-${key}`;
      const status = await guard(probePut(k, probeAgent, key, value));
      if (status !== 201) { unexpected('probe', status); return; }
      ledger.probes.set(key, { value, trial });
      ledger.ack('probe');
    }
  }

  // One clinician: consult after consult, each with one patient who goes
  // all the way to admitted and chats with the clinician.
  async function consults(docIndex) {
    const doc = docs[docIndex];
    const staff = await socket({ cookie: `${COOKIE}=${doc.cookie}` });
    for (let n = 1; !dead; n++) {
      const label = `c-t${trial}-d${docIndex}-${n}`;
      const emails = [`p-${label}@crash.example`];
      ledger.consultTries.set(label, emails.length);
      const now = Math.floor(Date.now() / 1000);
      const r = await guard(doc.post('/api/v1/consults', {
        label, starts_at: now, expires_at: now + 3 * 3600, invitees: emails.map((email) => ({ email, kind: 'patient' })),
      }));
      if (r.status !== 201) { unexpected('consult', `${r.status} ${r.body}`); return; }
      const c = { id: r.json.id, label, doc: docIndex, emails, trial, parts: [], chats: [] };
      ledger.consults.set(c.id, c);
      ledger.ack('consult');
      const token = outbox.token(emails[0]);
      if (!token) { unexpected('outbox', `no email to ${emails[0]} after 201`); return; }
      await patient(staff, c, token, n);
    }
  }

  async function patient(staff, c, token, n) {
    const room = await guard(staff.request({ type: 'watch', consult: c.id }, 'room'));
    if (room.type !== 'room') { unexpected('watch', JSON.stringify(room)); throw new Killed(); }
    const ws = await socket();
    const j = await guard(ws.request({ type: 'join', token }, 'joined'));
    if (j.type !== 'joined') { unexpected('join', JSON.stringify(j)); throw new Killed(); }
    const part = { pseudonym: j.participant.id, acked: 'joined', name: `Patient ${c.id}-${n}` };
    c.parts.push(part);
    ledger.ack('join');
    const step = async (msg, want, kind) => {
      const m = await guard(ws.request(msg, 'state'));
      if (m.type !== 'state' || m.state !== want) { unexpected(kind, JSON.stringify(m)); throw new Killed(); }
      part.acked = kind;
      ledger.ack(kind);
    };
    await step({ type: 'consent', accept: true, version: j.consent.version }, 'name', 'consent');
    await step({ type: 'name', display_name: part.name }, 'waiting', 'name');
    const list = await guard(staff.waitFor((m) => m.type === 'participants' &&
      m.participants.some((p) => p.pseudonym === part.pseudonym && p.state === 'waiting')));
    part.id = list.participants.find((p) => p.pseudonym === part.pseudonym).id;
    staff.sendJson({ type: 'admit', participant: part.id });
    const adm = await guard(ws.waitFor((m) => (m.type === 'state' && m.state === 'admitted') || m.type === 'error'));
    if (adm.type !== 'state') { unexpected('admit', JSON.stringify(adm)); throw new Killed(); }
    part.acked = 'admit';
    ledger.ack('admit');
    for (let i = 1; i <= 2 && !dead; i++) {
      await chat(ws, c, `patient says ${c.id}.${n}.${i}`);
      await chat(staff, c, `clinician says ${c.id}.${n}.${i}`);
    }
    ws.close();
  }

  async function chat(ws, c, text) {
    let m;
    // The per-connection message rate may refuse a burst: not acknowledged,
    // so it is sent again after a pause (at most five times).
    for (let tries = 0; tries < 5; tries++) {
      ws.sendJson({ type: 'chat', text });
      m = await guard(ws.waitFor((x) => (x.type === 'chat' && x.text === text) || x.type === 'error'));
      if (m.type !== 'error' || m.code !== 'rate_limited') break;
      await new Promise((r) => setTimeout(r, 300));
    }
    if (m.type !== 'chat') { unexpected('chat', JSON.stringify(m)); throw new Killed(); }
    c.chats.push(text);
    ledger.ack('chat');
  }

  // A writer ends when the server dies under it (any error once stopped).
  const run = (fn, ...args) => fn(...args).catch((e) => {
    if (!dead && !(e instanceof Killed)) unexpected(fn.name, e.stack || e.message);
  });
  const writers = [run(accounts), run(probes), ...docs.map((_, i) => run(consults, i))];
  return {
    stop() {
      dead = true;
      kill(new Killed());
      for (const ws of sockets) ws.terminate();
    },
    done: Promise.all(writers),
  };
}

// POST /api/v1/test/probe over a keep-alive agent; resolves to the status.
export function probePut(k, agent, key, value) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ key, value });
    const req = https.request({
      host: '127.0.0.1', port: k.port, method: 'POST', path: '/api/v1/test/probe', ca: k.ca, servername: 'localhost', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 5000,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

// GET /api/v1/test/probe/KEY; resolves to the stored value or undefined.
export function probeGet(k, agent, key) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: k.port, method: 'GET', path: `/api/v1/test/probe/${key}`, ca: k.ca, servername: 'localhost', agent, timeout: 5000,
    }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => { try { resolve(res.statusCode === 200 ? JSON.parse(body).value : undefined); } catch { resolve(undefined); } });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

// media.mjs — helpers for tests that run kamer's C test peer (kamer-peer)
// against a running kamer: a signed-in clinician, consults, tokens from the
// outbox, a staff connection that admits whoever waits, and the peer itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from './kamer.mjs';
import { Client, totp } from './client.mjs';

const PASSWORD = 'correct horse battery staple 42';
// The peer is built in release mode (the test's instrument, not the code under test).
export const PEER = path.resolve(process.env.KAMER_PEER || 'build/release/kamer-peer');
export const now = () => Math.floor(Date.now() / 1000);

// An org and a clinician who has set a password and TOTP; returns the Client.
export async function clinician(k, org, email) {
  assert.equal(runCli(['admin', 'org', 'create', org, '--data', k.dataDir]).status, 0);
  const add = runCli(['admin', 'user', 'add', '--org', org, '--role', 'clinician', '--email', email, '--data', k.dataDir],
    { KAMER_LISTEN: `127.0.0.1:${k.port}` });
  assert.equal(add.status, 0, add.stderr);
  const doc = new Client(k);
  await doc.post('/api/v1/auth/setup', { token: add.stdout.match(/#([A-Za-z0-9_-]{43})/)[1], password: PASSWORD });
  await doc.post('/api/v1/auth/signin', { email, password: PASSWORD });
  const secret = (await doc.post('/api/v1/auth/enrol/start', {})).json.secret;
  assert.equal((await doc.post('/api/v1/auth/enrol/confirm', { code: totp(secret, now()) })).status, 200);
  return doc;
}

// A consult inviting these patients; returns its id.
export async function consult(doc, emails) {
  const r = await doc.post('/api/v1/consults', { label: 'media', starts_at: now() + 60, expires_at: now() + 3600,
    invitees: emails.map((email) => ({ email, kind: 'patient' })) });
  assert.equal(r.status, 201, r.body);
  return r.json.id;
}

// The token of the newest email to this address in kamer's outbox.
export function tokenFor(k, email) {
  const dir = path.join(k.dataDir, 'outbox');
  const mail = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).find((m) => m.includes(`To: ${email}`));
  assert.ok(mail, `an email to ${email}`);
  return mail.replace(/=\r?\n/g, '').match(/\/j\/([A-Za-z0-9_-]{43})/)[1];
}

// Runs kamer-peer; resolves with its exit code, JSON report and stderr.
export function peer(k, args, { delayMs = 0 } = {}) {
  return new Promise((resolve) => setTimeout(() => {
    const p = spawn(PEER, ['--url', `wss://127.0.0.1:${k.port}/ws`, '--ca', k.caPath, '--timeout', '40', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => { // 'close': stdout fully read ('exit' may come first)
      let report = null;
      try { report = JSON.parse(out); } catch { /* the caller reports it */ }
      resolve({ code, report, err });
    });
  }, delayMs));
}

// Admits everyone who waits in the consult ws watches, until the returned stop() is called.
export function admitter(ws) {
  let stopped = false;
  (async () => {
    while (!stopped && !ws.closed) {
      let m;
      try { m = await ws.waitFor((x) => x.type === 'participants', 1000); } catch { continue; }
      for (const p of m.participants) if (p.state === 'waiting') ws.sendJson({ type: 'admit', participant: p.id });
    }
  })();
  return () => { stopped = true; };
}

// kamer's last media log lines, for a failed call's message: what kamer saw
// of each connection (state changes, refused offers) beside the peer's errors.
export function mediaLog(k, n = 40) {
  return k.log().split('\n').filter((l) => / sub=media /.test(l)).slice(-n).join('\n');
}

// Streams of a peer report that received packets; the video/audio one of a stream.
export const received = (rep) => (rep.rx || []).filter((x) => x.packets > 0);

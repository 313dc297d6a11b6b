// flow.mjs — the steps the hostile tests share: an organisation, a staff
// account that set its password and TOTP, a consult and its invitation
// token from the outbox, kamer's test clock, and sqlite3 queries on the
// database. Each step asserts that it worked, so that a test fails at the
// step that broke rather than later.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { runCli } from '../../integration/lib/kamer.mjs';
import { totp } from '../../integration/lib/client.mjs';
import { AddrClient, httpsFrom } from './net.mjs';

export const PASSWORD = 'correct horse battery staple 42';

// kamer's clock offset in seconds, per running kamer (the test hooks move it).
const offsets = new WeakMap();
export const nowOf = (k) => Math.floor(Date.now() / 1000) + (offsets.get(k) || 0);

// Moves kamer's clock forward (test hooks). Sent from 127.0.0.3, on one
// kept-alive connection per kamer, so that it never spends the request
// budget of the addresses under test. A request-rate refusal (429
// rate_limited, in real time) is waited out.
const clockAgents = new WeakMap();
export async function advance(k, seconds) {
  if (!clockAgents.has(k)) clockAgents.set(k, new https.Agent({ keepAlive: true, maxSockets: 1 }));
  let r;
  for (let i = 0; i < 10; i++) {
    r = await httpsFrom(k, '127.0.0.3', 'POST', '/api/v1/test/clock', { advance: seconds }, {}, clockAgents.get(k));
    if (r.status !== 429) break;
    await new Promise((res) => setTimeout(res, 1000 * Number(r.headers['retry-after'] || 1)));
  }
  assert.equal(r.status, 200, r.body);
  offsets.set(k, (offsets.get(k) || 0) + seconds);
}

// Closes the kept-alive connection advance() opened for k.
export function closeClock(k) {
  const a = clockAgents.get(k);
  if (a) a.destroy();
  clockAgents.delete(k);
}

export function sql(k, q) {
  const r = spawnSync('sqlite3', [path.join(k.dataDir, 'kamer.db'), q], { encoding: 'utf8', timeout: 15000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

export function cli(k, args) {
  const r = runCli([...args, '--data', k.dataDir], { KAMER_LISTEN: `127.0.0.1:${k.port}` });
  assert.equal(r.status, 0, `kamer ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r;
}

export const makeOrg = (k, name) => cli(k, ['admin', 'org', 'create', name]);

// A staff account in org: set-up link, password, sign-in, TOTP enrolment.
// Returns {c (signed-in AddrClient), email, password, secret, setupToken,
// codes (recovery), cookies (every session cookie value it was given)}.
export async function onboard(k, { org, email, role = 'clinician', password = PASSWORD, from = '127.0.0.1' }) {
  const add = cli(k, ['admin', 'user', 'add', '--org', org, '--role', role, '--email', email]);
  const m = add.stdout.match(/\/setup#([A-Za-z0-9_-]{43})/);
  assert.ok(m, `set-up link in: ${add.stdout}`);
  const setupToken = m[1];
  const c = new AddrClient(k, from);
  const cookies = [];
  const keep = () => { if (c.cookie && !cookies.includes(c.cookie)) cookies.push(c.cookie); };
  let r = await c.post('/api/v1/auth/setup', { token: setupToken, password });
  assert.equal(r.status, 200, r.body);
  r = await c.post('/api/v1/auth/signin', { email, password });
  assert.equal(r.status, 200, r.body);
  keep();
  r = await c.post('/api/v1/auth/enrol/start', {});
  assert.equal(r.status, 200, r.body);
  const secret = r.json.secret;
  r = await c.post('/api/v1/auth/enrol/confirm', { code: totp(secret, nowOf(k)) });
  assert.equal(r.status, 200, r.body);
  keep();
  return { c, email, password, secret, setupToken, codes: r.json.recovery_codes, cookies };
}

// Creates a consult (starting in a minute, one hour long); returns its JSON.
export async function createConsult(k, c, invitees, extra = {}) {
  const now = nowOf(k);
  const r = await c.post('/api/v1/consults', { label: 'spreekuur', starts_at: now + 60, expires_at: now + 3600, invitees, ...extra });
  assert.equal(r.status, 201, r.body);
  return r.json;
}

// The invitation token of the newest email to `email` in the outbox.
export function tokenFor(k, email) {
  const dir = path.join(k.dataDir, 'outbox');
  const mails = fs.readdirSync(dir).filter((f) => f.endsWith('.eml'))
    .map((f) => ({ t: fs.statSync(path.join(dir, f), { bigint: true }).mtimeNs, text: fs.readFileSync(path.join(dir, f), 'utf8') }))
    .filter((x) => x.text.includes(`To: ${email}`))
    .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  assert.ok(mails.length > 0, `an email to ${email} in the outbox`);
  return mails[mails.length - 1].text.replace(/=\r?\n/g, '').match(/\/j\/([A-Za-z0-9_-]{43})/)[1];
}

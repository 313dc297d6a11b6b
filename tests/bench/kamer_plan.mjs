// kamer_plan.mjs — prepares a running kamer for the benchmark's load client:
// an organisation, a clinician who sets a password and TOTP and signs in
// (the session cookie the load client's staff connections use), and one
// consult per room inviting per-room − 1 patients, whose link tokens are
// read from kamer's outbox. Writes the plan as JSON:
//   {"cookie": "NAME=VALUE", "rooms": [{"consult": 12, "tokens": ["..."]}, ...]}
// Usage: node kamer_plan.mjs --bin KAMER --data DIR --host 127.0.0.2 --port N
//          --rooms N --per-room P --out FILE
// Runs in the client's network namespace (HTTPS to HOST:PORT); the admin
// commands run on the data folder directly (as KAMER_USER when root).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { totp } from '../integration/lib/client.mjs';

const COOKIE = '__Host-kamer_session';
const PASSWORD = 'correct horse battery staple 42';

function args() {
  const a = {};
  const v = process.argv.slice(2);
  for (let i = 0; i + 1 < v.length; i += 2) a[v[i].replace(/^--/, '')] = v[i + 1];
  for (const k of ['bin', 'data', 'host', 'port', 'rooms', 'per-room', 'out']) if (!a[k]) throw new Error(`--${k} is required`);
  return a;
}

const A = args();
const ca = fs.readFileSync(path.join(A.data, 'certs', 'dev-ca.pem'));
let cookie = '';

function cli(argv, env = {}) {
  const r = spawnSync(A.bin, argv, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`kamer ${argv.slice(0, 3).join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function call(method, p, body) {
  const data = body === undefined ? undefined : JSON.stringify(body);
  const headers = { origin: `https://localhost:${A.port}`, 'user-agent': 'kamer-bench' };
  if (data !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  if (cookie) headers.cookie = `${COOKIE}=${cookie}`;
  return new Promise((resolve, reject) => {
    const req = https.request({ host: A.host, port: Number(A.port), method, path: p, ca, servername: 'localhost', agent: false, headers, timeout: 15000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        for (const c of res.headers['set-cookie'] || []) {
          const m = c.match(new RegExp(`^${COOKIE}=([^;]*)`));
          if (m) cookie = m[1];
        }
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        if (res.statusCode >= 300) reject(new Error(`${method} ${p}: ${res.statusCode} ${text.slice(0, 200)}`));
        else resolve(json);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: timed out`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

const now = () => Math.floor(Date.now() / 1000);

async function main() {
  const rooms = Number(A.rooms), per = Number(A['per-room']);
  cli(['admin', 'org', 'create', 'Bench', '--data', A.data]);
  const add = cli(['admin', 'user', 'add', '--org', 'Bench', '--role', 'clinician', '--email', 'dr@bench.example', '--data', A.data],
    { KAMER_LISTEN: `127.0.0.1:${A.port}` });
  const setup = add.match(/#([A-Za-z0-9_-]{43})/);
  if (!setup) throw new Error('no set-up link from kamer admin user add');
  await call('POST', '/api/v1/auth/setup', { token: setup[1], password: PASSWORD });
  await call('POST', '/api/v1/auth/signin', { email: 'dr@bench.example', password: PASSWORD });
  const { secret } = await call('POST', '/api/v1/auth/enrol/start', {});
  await call('POST', '/api/v1/auth/enrol/confirm', { code: totp(secret, now()) });
  const plan = { cookie: `${COOKIE}=${cookie}`, rooms: [] };
  for (let r = 0; r < rooms; r++) {
    const invitees = [];
    for (let k = 1; k < per; k++) invitees.push({ email: `r${r}p${k}@bench.example`, kind: 'patient' });
    const c = await call('POST', '/api/v1/consults', { label: `bench ${r}`, starts_at: now() + 60, expires_at: now() + 6 * 3600, invitees });
    plan.rooms.push({ consult: c.id, emails: invitees.map((x) => x.email) });
  }
  const tokens = new Map();
  const dir = path.join(A.data, 'outbox');
  for (const f of fs.readdirSync(dir)) {
    const mail = fs.readFileSync(path.join(dir, f), 'utf8').replace(/=\r?\n/g, '');
    const to = mail.match(/^To: (\S+)/m), tok = mail.match(/\/j\/([A-Za-z0-9_-]{43})/);
    if (to && tok) tokens.set(to[1], tok[1]);
  }
  for (const r of plan.rooms) {
    r.tokens = r.emails.map((e) => {
      if (!tokens.has(e)) throw new Error(`no invitation email to ${e} in the outbox`);
      return tokens.get(e);
    });
    delete r.emails;
  }
  fs.writeFileSync(A.out, JSON.stringify(plan), { mode: 0o600 });
  console.error(`kamer_plan: ${rooms} consults of ${per} ready`);
}

main().catch((e) => { console.error(`kamer_plan: ${e.message}`); process.exit(1); });

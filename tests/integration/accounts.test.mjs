// accounts.test.mjs — organisations, accounts and sign-in against a running
// kamer: set-up link, password policy, TOTP enrolment and sign-in, replay,
// recovery codes, lockout, idle timeout, disabling, roles and organisation
// isolation (table-driven over every admin endpoint), Origin checks, bad
// input, and the audit chain. Time moves with kamer's test clock.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { runCli, startKamer } from './lib/kamer.mjs';
import { Client, totp } from './lib/client.mjs';

let k;
let clock = 0; // seconds kamer's clock was advanced
const now = () => Math.floor(Date.now() / 1000) + clock;

async function advance(seconds) {
  const r = await new Client(k).post('/api/v1/test/clock', { advance: seconds });
  assert.equal(r.status, 200);
  clock += seconds;
}

function cli(...args) {
  const r = runCli([...args, '--data', k.dataDir], { KAMER_LISTEN: `127.0.0.1:${k.port}` });
  return r;
}

function addUser(org, role, email) {
  const r = cli('admin', 'user', 'add', '--org', org, '--role', role, '--email', email);
  assert.equal(r.status, 0, r.stderr);
  const m = r.stdout.match(/\/setup#([A-Za-z0-9_-]{43})/);
  assert.ok(m, `set-up link in: ${r.stdout}`);
  return m[1];
}

const PASSWORD = 'correct horse battery staple 42';

// Sets the password with the link, signs in, enrols TOTP. Returns the
// signed-in client and the TOTP secret.
async function onboard(email, role, org) {
  const token = addUser(org, role, email);
  const c = new Client(k);
  assert.equal((await c.post('/api/v1/auth/setup', { token, password: PASSWORD })).status, 200);
  let r = await c.post('/api/v1/auth/signin', { email, password: PASSWORD });
  assert.equal(r.json.next, 'enrol');
  r = await c.post('/api/v1/auth/enrol/start', {});
  assert.equal(r.status, 200);
  const secret = r.json.secret;
  r = await c.post('/api/v1/auth/enrol/confirm', { code: totp(secret, now()) });
  assert.equal(r.status, 200, r.body);
  return { c, secret, codes: r.json.recovery_codes, email };
}

describe('accounts and sign-in', () => {
  let orgA, orgB;
  before(async () => {
    k = await startKamer();
    assert.equal(cli('admin', 'org', 'create', 'Praktijk A').status, 0);
    assert.equal(cli('admin', 'org', 'create', 'Kliniek B').status, 0);
    orgA = 'Praktijk A';
    orgB = 'Kliniek B';
  });
  after(async () => { if (k) await k.stop(); });

  test('set-up link, password policy, enrolment, TOTP sign-in, replay, recovery code', async () => {
    const email = 'dr.jansen@praktijk-a.example';
    const token = addUser(orgA, 'clinician', email);
    const c = new Client(k);
    let r = await c.post('/api/v1/auth/setup/check', { token });
    assert.equal(r.status, 200);
    assert.equal(r.json.email, email);
    assert.equal(r.json.min_password_len, 12);
    for (const [pw, reason] of [['short', 'too_short'], ['dr.jansen is my name 1', 'contains_email'], ['abcdefghijklmnop', 'dictionary']]) {
      r = await c.post('/api/v1/auth/setup', { token, password: pw });
      assert.equal(r.status, 400, pw);
      assert.equal(r.json.error.code, 'password_rejected');
      assert.equal(r.json.error.reason, reason, pw);
    }
    assert.equal((await c.post('/api/v1/auth/setup', { token, password: PASSWORD })).status, 200);
    r = await c.post('/api/v1/auth/setup', { token, password: PASSWORD });
    assert.equal(r.status, 404, 'a set-up link works once');
    assert.equal(r.json.error.code, 'setup_link_invalid');

    r = await c.post('/api/v1/auth/signin', { email, password: PASSWORD });
    assert.equal(r.status, 200);
    assert.equal(r.json.next, 'enrol');
    const cookie = r.headers['set-cookie'].find((s) => s.startsWith('__Host-kamer_session='));
    for (const attr of ['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']) assert.ok(cookie.includes(attr), `cookie ${attr}`);
    const firstCookie = c.cookie;
    // A session that has not enrolled can do nothing else.
    assert.equal((await c.get('/api/v1/auth/sessions')).status, 403);
    r = await c.post('/api/v1/auth/enrol/start', {});
    assert.match(r.json.uri, /^otpauth:\/\/totp\/kamer:.*secret=[A-Z2-7]+/);
    assert.match(r.json.qr_svg, /^<svg[^>]*viewBox/);
    const secret = r.json.secret;
    r = await c.post('/api/v1/auth/enrol/confirm', { code: '000000' === totp(secret, now()) ? '111111' : '000000' });
    assert.equal(r.status, 400);
    r = await c.post('/api/v1/auth/enrol/confirm', { code: totp(secret, now()) });
    assert.equal(r.status, 200);
    assert.equal(r.json.recovery_codes.length, 10);
    assert.notEqual(c.cookie, firstCookie, 'the session id changes when it gains the second factor');
    r = await c.get('/api/v1/auth/me');
    assert.equal(r.json.stage, 'full');
    assert.equal(r.json.totp, true);
    assert.equal(r.json.org.name, orgA);

    // The old (pre-enrolment) session id no longer works.
    const stale = new Client(k);
    stale.cookie = firstCookie;
    assert.equal((await stale.get('/api/v1/auth/me')).status, 401);

    await c.post('/api/v1/auth/signout', {});
    assert.equal((await c.get('/api/v1/auth/me')).status, 401);

    // Password, then TOTP; the code used at enrolment cannot be replayed.
    await advance(30);
    const c2 = new Client(k);
    r = await c2.post('/api/v1/auth/signin', { email, password: PASSWORD });
    assert.equal(r.json.next, 'totp');
    assert.equal((await c2.get('/api/v1/admin/users')).status, 403, 'no access before the second factor');
    const code = totp(secret, now());
    r = await c2.post('/api/v1/auth/totp', { code });
    assert.equal(r.status, 200, r.body);
    const c3 = new Client(k);
    await c3.post('/api/v1/auth/signin', { email, password: PASSWORD });
    r = await c3.post('/api/v1/auth/totp', { code });
    assert.equal(r.status, 401, 'a code is accepted once');
    assert.equal(r.json.error.code, 'signin_failed');
    await advance(61);
    r = await c3.post('/api/v1/auth/totp', { recovery_code: 'nope-nope-nope' });
    assert.equal(r.status, 401);
    await advance(61); // past the throttle's delay
    const me = await c2.get('/api/v1/auth/me');
    assert.equal(me.status, 200);
  });

  test('recovery codes work once each', async () => {
    const u = await onboard('dr.recovery@praktijk-a.example', 'clinician', orgA);
    const c = new Client(k);
    await c.post('/api/v1/auth/signin', { email: u.email, password: PASSWORD });
    let r = await c.post('/api/v1/auth/totp', { recovery_code: u.codes[0].toUpperCase() });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json.recovery_codes_left, 9);
    const c2 = new Client(k);
    await c2.post('/api/v1/auth/signin', { email: u.email, password: PASSWORD });
    r = await c2.post('/api/v1/auth/totp', { recovery_code: u.codes[0] });
    assert.equal(r.status, 401);
    await advance(61);
  });

  test('unknown email, wrong password and wrong code get the same answer', async () => {
    const c = new Client(k);
    const a = await c.post('/api/v1/auth/signin', { email: 'nobody@nowhere.example', password: PASSWORD });
    await advance(61);
    const b = await c.post('/api/v1/auth/signin', { email: 'dr.jansen@praktijk-a.example', password: 'wrong wrong wrong' });
    assert.equal(a.status, 401);
    assert.equal(b.status, 401);
    assert.equal(a.body, b.body);
    await advance(61);
  });

  test('an unknown email takes as long as a wrong password (no enumeration by timing)', async () => {
    const c = new Client(k);
    const times = { unknown: [], known: [] };
    for (let i = 0; i < 5; i++) {
      for (const [kind, email] of [['unknown', `ghost${i}@nowhere.example`], ['known', 'dr.recovery@praktijk-a.example']]) {
        await advance(61);
        const t0 = process.hrtime.bigint();
        const r = await c.post('/api/v1/auth/signin', { email, password: 'definitely wrong pw' });
        times[kind].push(Number(process.hrtime.bigint() - t0) / 1e6);
        assert.equal(r.status, 401);
      }
    }
    const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
    const mu = median(times.unknown), mk = median(times.known);
    console.log(`sign-in failure time: unknown email median ${mu.toFixed(1)} ms, wrong password median ${mk.toFixed(1)} ms`);
    // Skipping the password hash for unknown emails would differ by a whole
    // scrypt (about 150 ms); the stores and audit rows differ by a few ms.
    assert.ok(Math.abs(mu - mk) < 100, `medians ${mu} vs ${mk}`);
    await advance(3700); // let the address's failure count start over
  });

  test('lockout after 10 failures, audited, released after 15 minutes', async () => {
    const u = await onboard('dr.lock@praktijk-a.example', 'clinician', orgA);
    const c = new Client(k);
    for (let i = 0; i < 10; i++) {
      await advance(61); // past the growing delay, so that each attempt counts
      const r = await c.post('/api/v1/auth/signin', { email: u.email, password: 'not the password!' });
      assert.equal(r.status, 401, `attempt ${i}: ${r.body}`);
    }
    await advance(61);
    let r = await c.post('/api/v1/auth/signin', { email: u.email, password: PASSWORD });
    assert.equal(r.status, 401, 'locked: even the right password is refused');
    assert.equal(r.json.error.code, 'signin_failed');
    await advance(15 * 60);
    r = await c.post('/api/v1/auth/signin', { email: u.email, password: PASSWORD });
    assert.equal(r.status, 200, r.body);
    const v = cli('audit', 'verify');
    assert.equal(v.status, 0, v.stdout + v.stderr);
  });

  test('idle timeout ends the session', async () => {
    const u = await onboard('dr.idle@praktijk-a.example', 'clinician', orgA);
    assert.equal((await u.c.get('/api/v1/auth/me')).status, 200);
    await advance(14 * 60);
    assert.equal((await u.c.get('/api/v1/auth/me')).status, 200, 'active within the idle timeout');
    await advance(16 * 60);
    assert.equal((await u.c.get('/api/v1/auth/me')).status, 401);
  });

  test('roles and organisations: every admin endpoint, table-driven', async () => {
    const adminA = await onboard('admin@praktijk-a.example', 'admin', orgA);
    const clinA = await onboard('dr.clin@praktijk-a.example', 'clinician', orgA);
    const adminB = await onboard('admin@kliniek-b.example', 'admin', orgB);
    const usersA = (await adminA.c.get('/api/v1/admin/users')).json.users;
    const victim = usersA.find((x) => x.email === clinA.email);
    assert.ok(victim);
    const id = victim.id;
    const endpoints = [
      ['GET', '/api/v1/admin/users'],
      ['POST', '/api/v1/admin/users', { email: 'new.person@example.org', role: 'clinician' }],
      ['PATCH', `/api/v1/admin/users/${id}`, { role: 'admin' }],
      ['POST', `/api/v1/admin/users/${id}/disable`, {}],
      ['POST', `/api/v1/admin/users/${id}/enable`, {}],
      ['POST', `/api/v1/admin/users/${id}/reset-2fa`, {}],
      ['POST', `/api/v1/admin/users/${id}/setup-link`, {}],
      ['GET', '/api/v1/admin/policy'],
      ['PUT', '/api/v1/admin/policy', { idle_timeout_min: 20 }],
      ['GET', '/api/v1/admin/audit'],
      ['GET', '/api/v1/admin/audit.csv'],
      ['GET', '/api/v1/admin/audit.json'],
    ];
    for (const [method, path, body] of endpoints) {
      const r = await clinA.c.call(method, path, body);
      assert.equal(r.status, 403, `clinician ${method} ${path}`);
      assert.equal(r.json.error.code, 'forbidden');
      const anon = await new Client(k).call(method, path, body);
      assert.equal(anon.status, 401, `anonymous ${method} ${path}`);
    }
    // Admin B: ids of org A are "not found"; lists show only org B.
    for (const [method, path, body] of endpoints) {
      const r = await adminB.c.call(method, path, body);
      if (path.includes(`/${id}`)) {
        assert.equal(r.status, 404, `admin B ${method} ${path}`);
      } else {
        assert.ok(r.status === 200 || r.status === 201, `admin B ${method} ${path}: ${r.status}`);
        assert.ok(!r.body.includes('praktijk-a.example'), `admin B sees nothing of org A at ${path}`);
      }
    }
    const after = await adminA.c.get('/api/v1/admin/users');
    const still = after.json.users.find((x) => x.id === id);
    assert.equal(still.role, 'clinician', 'org B changed nothing in org A');
    assert.equal(still.disabled, false);
    assert.equal((await adminA.c.get('/api/v1/admin/policy')).json.policy.idle_timeout_min, 15);
    assert.equal((await adminB.c.get('/api/v1/admin/policy')).json.policy.idle_timeout_min, 20);

    // Disabling ends the clinician's session at once.
    assert.equal((await clinA.c.get('/api/v1/auth/me')).status, 200);
    assert.equal((await adminA.c.post(`/api/v1/admin/users/${id}/disable`, {})).status, 200);
    assert.equal((await clinA.c.get('/api/v1/auth/me')).status, 401);

    // The audit log of org A records it, and reading it is itself audited.
    const page = await adminA.c.get('/api/v1/admin/audit?limit=1000');
    const actions = page.json.rows.map((x) => x.action);
    for (const a of ['user.disable', 'signin', '2fa.enrol']) assert.ok(actions.includes(a), a);
    assert.ok(!page.body.includes('@'), 'no email address in the audit log');
    const again = await adminA.c.get('/api/v1/admin/audit?limit=1000');
    assert.ok(again.json.rows.some((x) => x.action === 'audit.read'));
    const csv = await adminA.c.get('/api/v1/admin/audit.csv');
    assert.match(csv.headers['content-type'], /^text\/csv/);
    assert.match(csv.headers['content-disposition'], /attachment/);
    assert.match(csv.body.split('\n')[0], /^seq,ts,org_id,action/);
  });

  test('Origin is checked and bad input changes nothing', async () => {
    const admin = await onboard('admin2@praktijk-a.example', 'admin', orgA);
    let r = await admin.c.call('POST', '/api/v1/admin/users', { email: 'x@y.example', role: 'clinician' }, { origin: 'https://evil.example' });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'origin_refused');
    const bad = [
      '{"email": ',
      { email: 'x@y.example' },
      { email: 'x@y.example', role: 'surgeon' },
      { email: 42, role: 'clinician' },
      { email: 'x@y.example', role: 'clinician', is_admin: true },
      { email: 'x'.repeat(300) + '@y.example', role: 'clinician' },
      { email: 'not-an-email', role: 'clinician' },
    ];
    for (const b of bad) {
      r = await admin.c.post('/api/v1/admin/users', b);
      assert.ok(r.status >= 400 && r.status < 500, JSON.stringify(b));
      assert.equal(typeof r.json.error.code, 'string');
    }
    const list = await admin.c.get('/api/v1/admin/users');
    assert.ok(!list.body.includes('x@y.example'), 'nothing was created');
    r = await admin.c.put('/api/v1/admin/policy', { idle_timeout_min: 5, audit_retention_days: 100 });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.field, 'audit_retention_days');
    assert.equal((await admin.c.get('/api/v1/admin/policy')).json.policy.idle_timeout_min, 15, 'nothing half-written');
  });

  test('the audit chain verifies', () => {
    const r = cli('audit', 'verify');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /intact/);
  });

  test('audit retention: at least 2 years; older rows purged, the purge audited, the chain intact', async () => {
    let r = cli('admin', 'org', 'policy', orgB, '--set', 'audit_retention_days=365');
    assert.equal(r.status, 2, 'less than 2 years is refused');
    assert.equal(cli('admin', 'org', 'policy', orgB, '--set', 'audit_retention_days=730').status, 0);
    const rows = (org) => {
      const q = spawnSync('sqlite3', [`${k.dataDir}/kamer.db`, `SELECT count(*) FROM audit WHERE org_id = (SELECT id FROM orgs WHERE name = '${org}')`], { encoding: 'utf8' });
      return Number(q.stdout.trim());
    };
    const beforeA = rows(orgA), beforeB = rows(orgB);
    assert.ok(beforeB > 3);
    await advance(731 * 86400);
    assert.equal((await new Client(k).post('/api/v1/test/retention', {})).status, 200);
    assert.equal(rows(orgA), beforeA, 'org A keeps 5 years');
    assert.ok(rows(orgB) <= 2, `org B purged to the newest row and the purge row: ${rows(orgB)}`);
    r = cli('audit', 'verify');
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});

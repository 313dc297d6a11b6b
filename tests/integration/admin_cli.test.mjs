// admin_cli.test.mjs — the operator's command line: `kamer admin org|user`
// and `kamer audit verify|pubkey|checkpoint` against a temporary data
// folder (no server needed). Bad arguments exit 2 and write nothing; every
// change is audited; editing an audit row with the sqlite3 CLI is caught.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, tempDir } from './lib/kamer.mjs';

let dir;
const ENV = { KAMER_LOG_LEVEL: 'warn', KAMER_DATA_DIR: undefined, KAMER_CONFIG: undefined, KAMER_PUBLIC_URL: undefined };

function cli(...args) {
  return runCli([...args, '--data', dir], ENV);
}

function ok(r) {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

function sql(db, statement) {
  const r = spawnSync('sqlite3', [db, statement], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

// Parses `kamer admin user list` into [{id, role, state, twofa, email}].
function users(org) {
  const lines = ok(cli('admin', 'user', 'list', '--org', org)).stdout.trim().split('\n');
  assert.match(lines[0], /^ID\s+ROLE\s+STATE\s+2FA\s+EMAIL$/);
  return lines.slice(1).map((l) => {
    const m = l.match(/^(\d+)\s+(\S+)\s+(active|disabled|locked|no password yet)\s+(yes|no)\s+(\S+)$/);
    assert.ok(m, `user line: ${l}`);
    return { id: Number(m[1]), role: m[2], state: m[3], twofa: m[4], email: m[5] };
  });
}

function policy(org) {
  const out = ok(cli('admin', 'org', 'policy', org)).stdout;
  const p = {};
  for (const m of out.matchAll(/^(\w+)\s+=\s+(-?\d+)/gm)) p[m[1]] = Number(m[2]);
  return p;
}

describe('kamer admin and kamer audit', () => {
  let orgId;
  before(() => { dir = path.join(tempDir('kamer-admin-cli-'), 'data'); });
  after(() => { fs.rmSync(path.dirname(dir), { recursive: true, force: true }); });

  test('org create prints the id; the data folder is private', () => {
    const r = ok(cli('admin', 'org', 'create', 'Praktijk De Linde'));
    assert.match(r.stdout, /^\d+\n$/);
    orgId = Number(r.stdout);
    assert.ok(orgId > 0);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, 'kamer.db')).mode & 0o777, 0o600);
    const list = ok(cli('admin', 'org', 'list')).stdout;
    assert.match(list, new RegExp(`^${orgId}\\s+.*Praktijk De Linde$`, 'm'));
  });

  test('org create: a duplicate exits 1, a bad name exits 2', () => {
    const dup = cli('admin', 'org', 'create', 'Praktijk De Linde');
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /already exists/);
    for (const bad of ['', 'a\tb', '12345', 'x'.repeat(101)]) {
      const r = cli('admin', 'org', 'create', bad);
      assert.equal(r.status, 2, `name ${JSON.stringify(bad)}: ${r.stderr}`);
    }
    assert.equal(cli('admin', 'org', 'create').status, 2);
    assert.equal(cli('admin', 'org', 'create', 'A', 'B').status, 2);
    const names = ok(cli('admin', 'org', 'list')).stdout.trim().split('\n').slice(1);
    assert.equal(names.length, 1, names.join('\n'));
  });

  test('user add prints a one-time set-up link with a 43-character token after #', () => {
    const r = ok(cli('admin', 'user', 'add', '--org', 'Praktijk De Linde', '--role', 'admin', '--email', 'anna@linde.example'));
    const m = r.stdout.match(/^\s*(https:\/\/localhost:\d+)\/setup#([A-Za-z0-9_-]+)$/m);
    assert.ok(m, r.stdout);
    assert.equal(m[2].length, 43);
    assert.match(r.stdout, /24 hours/);
    // Stored only as its hash.
    const db = path.join(dir, 'kamer.db');
    assert.equal(sql(db, `SELECT count(*) FROM setup_links WHERE hash = '${m[2]}'`).trim(), '0');
    assert.equal(sql(db, 'SELECT count(*) FROM setup_links').trim(), '1');
    // By id too; a configured public URL is used.
    const r2 = runCli(['admin', 'user', 'add', '--org', String(orgId), '--role', 'clinician', '--email', 'bas@linde.example', '--data', dir],
      { ...ENV, KAMER_PUBLIC_URL: 'https://kamer.linde.example' });
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /^\s*https:\/\/kamer\.linde\.example\/setup#[A-Za-z0-9_-]{43}$/m);
    assert.deepEqual(users(String(orgId)).map((u) => [u.email, u.role, u.state, u.twofa]), [
      ['anna@linde.example', 'admin', 'no password yet', 'no'],
      ['bas@linde.example', 'clinician', 'no password yet', 'no'],
    ]);
  });

  test('user add: bad role, bad email, missing or unknown flag exit 2 and write nothing', () => {
    const cases = [
      ['--org', String(orgId), '--role', 'boss', '--email', 'c@linde.example'],
      ['--org', String(orgId), '--role', 'clinician', '--email', 'not-an-email'],
      ['--org', String(orgId), '--role', 'clinician', '--email', 'a@b@linde.example'],
      ['--org', String(orgId), '--role', 'clinician'],
      ['--org', String(orgId), '--email', 'c@linde.example'],
      ['--role', 'clinician', '--email', 'c@linde.example'],
      ['--org', String(orgId), '--role', 'clinician', '--email', 'c@linde.example', '--colour', 'red'],
      ['--org', String(orgId), '--role', 'clinician', '--email', 'c@linde.example', 'extra'],
      ['--org', String(orgId), '--role', 'clinician', '--email', 'c@linde.example', '--role', 'admin'],
      ['--org', String(orgId), '--role', 'clinician', '--email'],
    ];
    for (const args of cases) {
      const r = cli('admin', 'user', 'add', ...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /kamer admin user add: .+/);
      assert.equal(r.stdout, '');
    }
    // A taken email (any case) and an unknown org fail with 1.
    const dup = cli('admin', 'user', 'add', '--org', String(orgId), '--role', 'admin', '--email', 'ANNA@linde.example');
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /already exists/);
    const noOrg = cli('admin', 'user', 'add', '--org', 'Nergens', '--role', 'admin', '--email', 'z@linde.example');
    assert.equal(noOrg.status, 1);
    assert.match(noOrg.stderr, /no organisation/);
    assert.equal(users(String(orgId)).length, 2);
  });

  test('org policy: shows, sets several keys at once, and one bad value changes nothing', () => {
    const p0 = policy('Praktijk De Linde');
    assert.equal(p0.idle_timeout_min, 15);
    assert.equal(p0.require_2fa, 1);
    assert.equal(p0.audit_retention_days, 1825);
    for (const bad of [
      ['--set', 'idle_timeout_min=30', '--set', 'audit_retention_days=365'],
      ['--set', 'idle_timeout_min=30', '--set', 'no_such_key=1'],
      ['--set', 'idle_timeout_min=thirty'],
      ['--set', 'idle_timeout_min'],
      ['--set', 'idle_timeout_min=30', '--email', 'x@y.z'],
    ]) {
      const r = cli('admin', 'org', 'policy', String(orgId), ...bad);
      assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    }
    assert.deepEqual(policy(String(orgId)), p0);
    ok(cli('admin', 'org', 'policy', String(orgId), '--set', 'idle_timeout_min=30', '--set', 'lockout_failures=5'));
    assert.deepEqual(policy(String(orgId)), { ...p0, idle_timeout_min: 30, lockout_failures: 5 });
    assert.equal(cli('admin', 'org', 'policy', 'Nergens').status, 1);
  });

  test('disable, enable, reset-2fa and a new set-up link', () => {
    const bas = users(String(orgId)).find((u) => u.email === 'bas@linde.example');
    ok(cli('admin', 'user', 'disable', '--email', 'Bas@Linde.example'));
    assert.equal(users(String(orgId)).find((u) => u.id === bas.id).state, 'disabled');
    assert.equal(cli('admin', 'user', 'setup-link', '--id', String(bas.id)).status, 1, 'no link for a disabled user');
    ok(cli('admin', 'user', 'enable', '--id', String(bas.id)));
    assert.equal(users(String(orgId)).find((u) => u.id === bas.id).state, 'no password yet');
    ok(cli('admin', 'user', 'reset-2fa', '--id', String(bas.id)));
    const link = ok(cli('admin', 'user', 'setup-link', '--email', 'bas@linde.example')).stdout;
    assert.match(link, /\/setup#[A-Za-z0-9_-]{43}$/m);
    assert.equal(cli('admin', 'user', 'disable', '--email', 'nobody@linde.example').status, 1);
    assert.equal(cli('admin', 'user', 'disable').status, 2);
    assert.equal(cli('admin', 'user', 'disable', '--id', '1', '--email', 'bas@linde.example').status, 2);
    assert.equal(cli('admin', 'user', 'disable', '--id', 'x').status, 2);
    assert.equal(cli('admin', 'user', 'frobnicate', '--id', '1').status, 2);
  });

  test('every change is audited by operator/cli, with ids and no email or name', () => {
    const rows = sql(path.join(dir, 'kamer.db'),
      "SELECT action || '|' || actor_type || '|' || actor_id || '|' || actor_role || '|' || object_type || '|' || object_id || '|' || detail FROM audit ORDER BY seq")
      .trim().split('\n');
    const actions = rows.map((r) => r.split('|')[0]);
    assert.deepEqual(actions, ['org.create', 'user.create', 'user.create', 'policy.change', 'user.disable',
      'user.enable', 'user.2fa_reset', 'user.setup_link']);
    for (const r of rows) {
      const [, type, id, role, otype, oid] = r.split('|');
      assert.deepEqual([type, id, role], ['operator', 'cli', 'operator']);
      assert.ok(['org', 'user', 'policy'].includes(otype), r);
      assert.match(oid, /^\d+$/);
      assert.ok(!/linde|@/i.test(r), `no name or email in ${r}`);
    }
    assert.match(rows[3], /idle_timeout_min:15->30/);
    assert.match(rows[3], /lockout_failures:10->5/);
  });

  test('audit verify passes; pubkey prints a PEM that verifies the checkpoints', () => {
    ok(cli('audit', 'checkpoint'));
    const v = ok(cli('audit', 'verify'));
    assert.match(v.stdout, /audit log intact/);
    assert.match(v.stdout, /rows checked:\s+8/);
    const pem = ok(cli('audit', 'pubkey')).stdout;
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n$/);
    const pub = path.join(path.dirname(dir), 'auditor.pem');
    fs.writeFileSync(pub, pem);
    const vk = ok(cli('audit', 'verify', '--pubkey', pub));
    assert.match(vk.stdout, /signatures verified/);
    assert.match(vk.stdout, /audit log intact/);
    assert.equal(cli('audit', 'verify', '--pubkey', path.join(dir, 'nope.pem')).status, 1);
    assert.equal(cli('audit', 'verify', '--bogus').status, 2);
  });

  test('an UPDATE made with the sqlite3 CLI is detected and the row named', () => {
    // Keep an untampered copy for the --pubkey check afterwards.
    const copy = path.join(path.dirname(dir), 'copy');
    fs.cpSync(dir, copy, { recursive: true });
    const db = path.join(dir, 'kamer.db');
    const seq = sql(db, "SELECT seq FROM audit WHERE action = 'policy.change'").trim();
    sql(db, "DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'idle_timeout_min:15->240' WHERE action = 'policy.change';");
    const r = cli('audit', 'verify');
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`first bad row: ${seq}\\b`));
    assert.match(r.stdout, new RegExp(`row ${seq}: hash does not match`));
    assert.doesNotMatch(r.stdout, /audit log intact/);

    const pub = path.join(path.dirname(dir), 'auditor.pem');
    const rc = runCli(['audit', 'verify', '--pubkey', pub, '--data', copy], ENV);
    assert.equal(rc.status, 0, rc.stdout + rc.stderr);
    assert.match(rc.stdout, /audit log intact/);
  });

  test('help and usage', () => {
    for (const args of [['admin', '--help'], ['admin', 'org', '--help'], ['admin', 'user', 'add', '--help'], ['audit', '--help']]) {
      const r = runCli(args, ENV);
      assert.equal(r.status, 0, args.join(' '));
      assert.match(r.stdout, /Usage: kamer/);
    }
    assert.equal(runCli(['admin'], ENV).status, 2);
    assert.equal(runCli(['audit'], ENV).status, 2);
    assert.equal(runCli(['admin', 'group', 'list'], ENV).status, 2);
    assert.equal(runCli(['audit', 'verify', '--data', path.join(dir, 'missing')], ENV).status, 1);
  });
});

// privilege.test.mjs — least privilege for `kamer serve`. Started as root it
// opens its port, then runs as its service user: every thread's real,
// effective, saved and file-system uid and gid are the user's, no
// supplementary groups, no capabilities; everything it makes in the data
// folder is 0600 (folders 0700) and the user's. A missing user is refused
// (exit 2, with the useradd command), and so is a data folder that is not
// the user's. The systemd unit's sandbox scores OK or better.
// The root tests skip (saying why) when not run as root; the CI runs as root.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AS_ROOT, TEST_USER, chownTree, ensureUser, freePort, runCli, startKamer, tempDir } from './lib/kamer.mjs';
import { Client, totp } from './lib/client.mjs';

const NEEDS_ROOT = AS_ROOT ? false : 'needs root (the CI runs as root): the privilege drop only happens when started as root';
const PASSWORD = 'correct horse battery staple 42';

function ids(name) {
  const num = (flag) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  return { uid: num('-u'), gid: num('-g') };
}

// The Uid/Gid/Groups/Cap* lines of /proc/PID/task/TID/status, per thread.
function threads(pid) {
  return fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
    const text = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const field = (k) => (text.match(new RegExp(`^${k}:[ \\t]*(.*)$`, 'm')) || [])[1]?.trim() ?? null;
    return { tid, uid: field('Uid'), gid: field('Gid'), groups: field('Groups'), capPrm: field('CapPrm'), capEff: field('CapEff') };
  });
}

// Every file and folder under dir (dir included), without following links.
function walk(dir) {
  const out = [{ p: dir, st: fs.lstatSync(dir) }];
  for (const e of fs.readdirSync(dir)) {
    const p = path.join(dir, e);
    const st = fs.lstatSync(p);
    if (st.isDirectory()) out.push(...walk(p));
    else out.push({ p, st });
  }
  return out;
}

function assertPrivate(dir, uid, gid) {
  const entries = walk(dir);
  assert.ok(entries.length > 5, `the data folder has kamer's files: ${entries.map((e) => e.p).join(', ')}`);
  for (const { p, st } of entries) {
    const mode = (st.mode & 0o7777).toString(8);
    assert.ok(st.isDirectory() || st.isFile(), `${p} is a plain file or folder`);
    assert.equal(mode, st.isDirectory() ? '700' : '600', `${p} mode`);
    assert.equal(st.uid, uid, `${p} owner`);
    assert.equal(st.gid, gid, `${p} group`);
  }
}

describe('kamer serve started as root', { skip: NEEDS_ROOT }, () => {
  let k, user;
  before(async () => {
    ensureUser(TEST_USER);
    user = ids(TEST_USER);
    k = await startKamer({ args: ['--user', TEST_USER] });
  });
  after(async () => { if (k) await k.stop(); });

  test('runs as the service user in every thread, with no groups and no capabilities', () => {
    const want = (n) => `${n}\t${n}\t${n}\t${n}`;
    const ts = threads(k.pid);
    assert.ok(ts.length >= 2, 'the media and mail threads exist too');
    for (const t of ts) {
      assert.equal(t.uid, want(user.uid), `thread ${t.tid} Uid (real, effective, saved, fs)`);
      assert.equal(t.gid, want(user.gid), `thread ${t.tid} Gid (real, effective, saved, fs)`);
      assert.equal(t.groups, '', `thread ${t.tid} has no supplementary groups`);
      assert.equal(BigInt(`0x${t.capPrm}`), 0n, `thread ${t.tid} CapPrm`);
      assert.equal(BigInt(`0x${t.capEff}`), 0n, `thread ${t.tid} CapEff`);
    }
    assert.match(k.log(), /event=privileges_dropped uid=\d+ gid=\d+/);
  });

  test('answers /healthz', async () => {
    const r = await k.req('GET', '/healthz');
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ok');
  });

  test('everything in the data folder is the user\'s, files 0600 and folders 0700 (an emailed invitation too)', async () => {
    // An organisation and a clinician (the CLI as root, while kamer runs),
    // then a consult with an invitee: kamer writes the email to the outbox.
    assert.equal(runCli(['admin', 'org', 'create', 'Praktijk P', '--data', k.dataDir]).status, 0);
    const email = 'dokter@praktijk-p.example';
    const add = runCli(['admin', 'user', 'add', '--org', 'Praktijk P', '--role', 'clinician', '--email', email, '--data', k.dataDir],
      { KAMER_LISTEN: `127.0.0.1:${k.port}` });
    assert.equal(add.status, 0, add.stderr);
    const token = add.stdout.match(/#([A-Za-z0-9_-]{43})/)[1];
    const c = new Client(k);
    assert.equal((await c.post('/api/v1/auth/setup', { token, password: PASSWORD })).status, 200);
    await c.post('/api/v1/auth/signin', { email, password: PASSWORD });
    const secret = (await c.post('/api/v1/auth/enrol/start', {})).json.secret;
    assert.equal((await c.post('/api/v1/auth/enrol/confirm', { code: totp(secret, Math.floor(Date.now() / 1000)) })).status, 200);
    const now = Math.floor(Date.now() / 1000);
    const r = await c.post('/api/v1/consults', {
      label: 'spreekuur', starts_at: now + 60, expires_at: now + 3600, invitees: [{ email: 'patient@mail.example', kind: 'patient' }],
    });
    assert.equal(r.status, 201, r.body);
    const outbox = path.join(k.dataDir, 'outbox');
    for (let i = 0; i < 100 && !fs.readdirSync(outbox).some((f) => f.endsWith('.eml')); i++) await new Promise((res) => setTimeout(res, 50));
    assert.ok(fs.readdirSync(outbox).some((f) => f.endsWith('.eml')), 'the invitation is in the outbox');
    for (const f of ['kamer.db', 'audit.head', 'keys/server.key', 'certs/dev-ca.pem', 'certs/server.key'])
      assert.ok(fs.existsSync(path.join(k.dataDir, f)), `${f} exists`);
    assertPrivate(k.dataDir, user.uid, user.gid);
  });

  test('stops cleanly, and what it writes on the way out is the user\'s too', async () => {
    const dir = k.dataDir;
    const r = await k.stop();
    k = null;
    assert.equal(r.code, 0, JSON.stringify(r));
    assertPrivate(dir, user.uid, user.gid);
    // Operator commands run by root work as the data folder's owner: what
    // they write (a signed checkpoint, the audit head) stays the user's.
    const cp = runCli(['audit', 'checkpoint', '--data', dir]);
    assert.equal(cp.status, 0, cp.stderr);
    assert.equal(runCli(['audit', 'verify', '--data', dir]).status, 0);
    assert.equal(runCli(['admin', 'org', 'create', 'Praktijk Q', '--data', dir]).status, 0);
    assertPrivate(dir, user.uid, user.gid);
  });
});

describe('kamer serve refuses to stay root', { skip: NEEDS_ROOT }, () => {
  test('a user that does not exist: exit 2, naming it and how to create it', async () => {
    const name = 'nosuchuser';
    assert.notEqual(spawnSync('id', ['-u', name]).status, 0, `${name} must not exist on this machine`);
    const d = tempDir();
    const r = runCli(['serve', '--data', d, '--listen', `127.0.0.1:${await freePort()}`, '--user', name]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /"nosuchuser", which does not exist/);
    assert.match(r.stderr, /refuses to keep running as root/);
    assert.ok(r.stderr.includes('useradd --system --home-dir /var/lib/kamer --shell /usr/sbin/nologin nosuchuser'), r.stderr);
    assert.deepEqual(fs.readdirSync(d), [], 'nothing was made in the data folder');
  });

  test('the config key user works like --user (and root itself is refused)', async () => {
    const d = tempDir();
    fs.writeFileSync(path.join(d, 'kamer.conf'), 'user = nosuchuser\n');
    let r = runCli(['serve', '--data', d, '--listen', `127.0.0.1:${await freePort()}`], { KAMER_USER: undefined });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /"nosuchuser", which does not exist/);
    r = runCli(['serve', '--data', d, '--listen', `127.0.0.1:${await freePort()}`, '--user', 'root']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /refuses to run as root/);
  });

  test('a data folder that is not the user\'s: a clear error with the folder and the chown command', async () => {
    ensureUser(TEST_USER);
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kamer-rootowned-')); // root's, 0700
    const r = runCli(['serve', '--data', d, '--listen', `127.0.0.1:${await freePort()}`, '--user', TEST_USER]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.stderr.includes(`data folder ${d} belongs to root, not to ${TEST_USER}`), r.stderr);
    assert.ok(r.stderr.includes(`chown -R ${TEST_USER}:`) && r.stderr.includes(` ${d}`), r.stderr);
    assert.deepEqual(fs.readdirSync(d), [], 'nothing was made in the data folder');
  });

  test('a data folder the user owns but cannot write: a clear error with the folder', async () => {
    ensureUser(TEST_USER);
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kamer-readonly-'));
    chownTree(d, TEST_USER);
    fs.chmodSync(d, 0o500);
    const r = runCli(['serve', '--data', d, '--listen', `127.0.0.1:${await freePort()}`, '--user', TEST_USER]);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.stderr.includes(`data folder ${d} is not writable`), r.stderr);
    assert.ok(r.stderr.includes(`chown -R ${TEST_USER}:`) && r.stderr.includes(`chmod 700 ${d}`), r.stderr);
  });

  test('a file in the data folder that is root\'s: the error names it and the chown command', async () => {
    ensureUser(TEST_USER);
    const d = tempDir();
    chownTree(d, TEST_USER);
    fs.writeFileSync(path.join(d, 'kamer.db'), '', { mode: 0o600 }); // made by root, e.g. an admin command
    const r = runCli(['serve', '--data', d, '--listen', `127.0.0.1:${await freePort()}`, '--user', TEST_USER]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /kamer\.db/);
    assert.ok(r.stderr.includes(`chown -R ${TEST_USER}:`), r.stderr);
  });
});

describe('the user key', () => {
  test('is checked like every key: a name, else exit 2 naming the source', () => {
    const d = tempDir();
    let r = runCli(['config', 'check', '--data', d], { KAMER_USER: '-rf' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /KAMER_USER: user = "-rf": must be a user name/);
    r = runCli(['serve', '--data', d, '--user', 'a b']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--user: user = "a b": must be a user name/);
    r = runCli(['config', 'check', '--data', d], { KAMER_USER: 'svc-kamer' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /user = "svc-kamer"/);
  });
});

describe('docs/kamer.service', () => {
  const have = spawnSync('systemd-analyze', ['--version']).status === 0;
  test('systemd-analyze security scores the unit OK or better', { skip: have ? false : 'systemd-analyze is not installed (apt-get install systemd)' }, () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', 'docs/kamer.service'], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    const m = r.stdout.match(/Overall exposure level for kamer\.service: ([0-9.]+) (\w+)/);
    assert.ok(m, `a score line in:\n${r.stdout}`);
    assert.ok(['PERFECT', 'SAFE', 'OK'].includes(m[2]), `score ${m[1]} ${m[2]}`);
    assert.ok(Number(m[1]) < 5, `exposure ${m[1]}`);
  });
});

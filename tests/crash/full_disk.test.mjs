// full_disk.test.mjs — kamer on a data folder that runs out of space (a
// small tmpfs mounted as the data folder; needs root). A filler file takes
// almost all of it, then writes of every kind go in until kamer refuses.
// Asserts: the refusals are a clear error (503 or 507 saying storage is
// full, never a 500 or a dropped connection), the log says so too, kamer
// stays up, nothing acknowledged is lost, writes work again as soon as
// space is freed (no restart), `kamer audit verify` passes, and a restart
// works. The only allowed skip: not root.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { AS_ROOT, chownTree, runCli, startKamer, tempDir } from '../integration/lib/kamer.mjs';
import { COOKIE } from '../integration/lib/client.mjs';
import { wsConnect } from '../integration/lib/ws.mjs';
import { probeGet, probePut, signUp } from './load.mjs';

if (!AS_ROOT) {
  console.log('skipped: needs root to mount a tmpfs');
  process.exit(0);
}

const SIZE_MB = 8;
const env = { KAMER_HTTP_RATE_PER_SEC: '100000', KAMER_HTTP_RATE_BURST: '100000' };
const FULL = /\b(storage|disk)[ _]?(is )?full\b|no space|out of space/i;
const dataDir = tempDir('kamer-vol-');
const filler = path.join(dataDir, 'filler');
const sh = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const freeBytes = () => { const s = fs.statfsSync(dataDir); return s.bavail * s.bsize; };

// Fills the folder with the filler file until leave bytes are free.
function fill(leave) {
  const fd = fs.openSync(filler, 'a');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (let free = freeBytes(); free > leave;) {
      const n = Math.min(chunk.length, free - leave);
      fs.writeSync(fd, chunk, 0, n);
      free = freeBytes();
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

sh('mount', ['-t', 'tmpfs', '-o', `size=${SIZE_MB}m,mode=0700`, 'tmpfs', dataDir]);
let k;
const acked = new Map();   // probe key -> value
const users = new Map();   // user id -> email
const consults = new Map(); // consult id -> label
const refusals = [];       // {what, status, body}
let ok = false;
try {
  chownTree(dataDir);
  k = await startKamer({ dataDir, env });
  assert.equal(runCli(['admin', 'org', 'create', 'Vol', '--data', dataDir]).status, 0);
  const add = runCli(['admin', 'user', 'add', '--org', 'Vol', '--role', 'admin', '--email', 'admin@vol.example', '--data', dataDir],
    { KAMER_LISTEN: `127.0.0.1:${k.port}` });
  assert.equal(add.status, 0, add.stderr);
  const admin = await signUp(k, add.stdout.match(/#([A-Za-z0-9_-]{43})/)[1], 'admin@vol.example');
  let r = await admin.post('/api/v1/admin/users', { email: 'dr@vol.example', role: 'clinician' });
  assert.equal(r.status, 201, r.body);
  const doc = await signUp(k, r.json.setup_link.split('#')[1], 'dr@vol.example');
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const logBefore = k.log().length;

  // One write of each kind; records what was acknowledged and what refused.
  let n = 0;
  const now = () => Math.floor(Date.now() / 1000);
  async function writeRound() {
    n++;
    const key = `fd-${n}`, value = `${key}-`.padEnd(1000, 'x');
    const ps = await probePut(k, agent, key, value);
    if (ps === 201) acked.set(key, value); else refusals.push({ what: 'probe', status: ps });
    const u = await admin.post('/api/v1/admin/users', { email: `u${n}@vol.example`, role: 'clinician' });
    if (u.status === 201) users.set(u.json.id, `u${n}@vol.example`); else refusals.push({ what: 'user', status: u.status, body: u.body });
    const c = await doc.post('/api/v1/consults', { label: `fd ${n}`, starts_at: now(), expires_at: now() + 3600,
      invitees: [{ email: `p${n}@vol.example`, kind: 'patient' }] });
    if (c.status === 201) consults.set(c.json.id, `fd ${n}`); else refusals.push({ what: 'consult', status: c.status, body: c.body });
    return ps === 201 && u.status === 201 && c.status === 201;
  }

  for (let i = 0; i < 3; i++) assert.ok(await writeRound(), 'writes work before the disk is full');
  fill(96 * 1024);
  console.log(`filled: ${freeBytes()} bytes free of ${SIZE_MB} MB`);
  for (let i = 0; i < 400 && !refusals.length; i++) await writeRound();
  assert.ok(refusals.length > 0, `kamer refused nothing after ${n} rounds of writes on a full disk`);
  for (let i = 0; i < 5; i++) await writeRound(); // refusals of every kind, and kamer stays up
  // A chat message over WSS on the full disk: store_failed, nothing else.
  const staff = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
  staff.on('error', () => {});
  const someConsult = [...consults.keys()][0];
  const room = await staff.request({ type: 'watch', consult: someConsult }, 'room');
  assert.equal(room.type, 'room', JSON.stringify(room));
  const chat = await staff.request({ type: 'chat', text: 'on a full disk' }, 'chat');
  console.log(`chat on a full disk: ${JSON.stringify(chat)}`);
  staff.terminate();
  assert.equal(k.exited(), null, 'kamer is still running');
  assert.equal((await k.req('GET', '/healthz')).status, 200);

  console.log(`${n} rounds: acknowledged ${acked.size} probes, ${users.size} users, ${consults.size} consults; ${refusals.length} refusals: ` +
    JSON.stringify(refusals.slice(0, 4)));
  // What a refusal says is checked after the rest, so that one run shows
  // every problem.
  const unclear = new Map();
  for (const x of refusals) {
    if (x.status !== 507 && x.status !== 503) unclear.set(`${x.what} refused with ${x.status}, not 507/503`, x.body);
    else if (x.body !== undefined && !FULL.test(x.body)) unclear.set(`${x.what}: the refusal does not say storage is full`, x.body);
  }
  assert.ok(chat.type === 'error' || chat.type === 'chat', JSON.stringify(chat));
  if (chat.type === 'error' && !FULL.test(`${chat.code} ${chat.message}`)) unclear.set('chat: the refusal does not say storage is full', JSON.stringify(chat));
  const storeLines = k.log().slice(logBefore).split('\n').filter((l) => /store_failed|sql_failed|storage_full/.test(l));
  if (!storeLines.some((l) => FULL.test(l))) unclear.set('the log does not say storage is full', storeLines[0]);

  // Free the space: writes work again at once.
  fs.unlinkSync(filler);
  assert.ok(await writeRound(), `writes work again after freeing space: ${JSON.stringify(refusals.slice(-3))}`);
  for (const [key, value] of acked) assert.equal(await probeGet(k, agent, key), value, `probe ${key}`);
  agent.destroy();

  // Stopped cleanly: the audit log and the database are whole.
  const stop = await k.stop();
  assert.equal(stop.code, 0, `kamer stopped cleanly: ${JSON.stringify(stop)}`);
  const av = runCli(['audit', 'verify', '--data', dataDir]);
  assert.equal(av.status, 0, `audit verify: ${av.stdout}${av.stderr}`);
  const integ = spawnSync('sqlite3', ['-readonly', path.join(dataDir, 'kamer.db'), 'PRAGMA integrity_check'], { encoding: 'utf8' });
  if (integ.status === 0) assert.equal(integ.stdout.trim(), 'ok');

  // A restart works and everything acknowledged is there.
  k = await startKamer({ dataDir, port: k.port, env });
  admin.k = k;
  doc.k = k;
  const agent2 = new https.Agent({ keepAlive: true, maxSockets: 1 });
  for (const [key, value] of acked) assert.equal(await probeGet(k, agent2, key), value, `probe ${key} after the restart`);
  agent2.destroy();
  const list = (await admin.get('/api/v1/admin/users')).json.users;
  for (const [id, email] of users) assert.ok(list.some((u) => u.id === id && u.email === email), `user ${email}`);
  const mine = (await doc.get('/api/v1/consults')).json.consults;
  for (const [id, label] of consults) assert.ok(mine.some((c) => c.id === id && c.label === label && c.invitations.length === 1), `consult ${label}`);
  for (const [what, body] of unclear) console.log(`FAIL ${what}: ${body}`);
  assert.equal(unclear.size, 0, 'refusals on a full disk must say that storage is full');
  ok = true;
  console.log(`full disk: ${refusals.length} clear refusals, nothing acknowledged lost (${acked.size + users.size + consults.size} writes), ` +
    'writes resumed after freeing space, audit verify ok, restart ok');
} finally {
  if (k) await k.stop();
  if (!ok && k) console.log(`kamer log (last lines):\n${k.log().split('\n').slice(-25).join('\n')}`);
  spawnSync('umount', [dataDir]);
  fs.rmSync(dataDir, { recursive: true, force: true });
}

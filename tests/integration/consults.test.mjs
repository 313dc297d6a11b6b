// consults.test.mjs — the consult flow against a running kamer, driven by
// test clients over HTTPS and WSS: create -> the email in the outbox -> join
// with its token -> consent -> name -> wait -> admitted -> chat both ways ->
// reload with the browser's cookie and see the history -> end -> link
// refused and the personal data gone from the database. Also: another
// device, out-of-order messages, refused consent and admission, revoke and
// re-send, expiry, another clinician's consult, the bad-token limit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, startKamer } from './lib/kamer.mjs';
import { Client, COOKIE, totp } from './lib/client.mjs';
import { wsConnect } from './lib/ws.mjs';

const PASSWORD = 'correct horse battery staple 42';
let k;
let clock = 0;
const now = () => Math.floor(Date.now() / 1000) + clock;
const sql = (q) => spawnSync('sqlite3', [`${k.dataDir}/kamer.db`, q], { encoding: 'utf8' }).stdout.trim();

async function advance(seconds) {
  assert.equal((await new Client(k).post('/api/v1/test/clock', { advance: seconds })).status, 200);
  clock += seconds;
}

async function clinician(email) {
  const add = runCli(['admin', 'user', 'add', '--org', 'Praktijk C', '--role', 'clinician', '--email', email, '--data', k.dataDir],
    { KAMER_LISTEN: `127.0.0.1:${k.port}` });
  assert.equal(add.status, 0, add.stderr);
  const token = add.stdout.match(/#([A-Za-z0-9_-]{43})/)[1];
  const c = new Client(k);
  assert.equal((await c.post('/api/v1/auth/setup', { token, password: PASSWORD })).status, 200);
  await c.post('/api/v1/auth/signin', { email, password: PASSWORD });
  const secret = (await c.post('/api/v1/auth/enrol/start', {})).json.secret;
  assert.equal((await c.post('/api/v1/auth/enrol/confirm', { code: totp(secret, now()) })).status, 200);
  return c;
}

function outbox() {
  const dir = path.join(k.dataDir, 'outbox');
  // Oldest first (names start with the second only: order by write time).
  return fs.readdirSync(dir).filter((f) => f.endsWith('.eml'))
    .map((f) => ({ f, t: fs.statSync(path.join(dir, f), { bigint: true }).mtimeNs }))
    .sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0))
    .map(({ f }) => fs.readFileSync(path.join(dir, f), 'utf8'));
}

function tokenFor(email) {
  const mails = outbox().filter((m) => m.includes(`To: ${email}`));
  assert.ok(mails.length > 0, `an email to ${email}`);
  const links = mails.map((m) => m.replace(/=\r?\n/g, '').match(/\/j\/([A-Za-z0-9_-]{43})/)[1]);
  return links[links.length - 1];
}

async function create(c, invitees, extra = {}) {
  const r = await c.post('/api/v1/consults', { label: 'spreekuur 10:00', starts_at: now() + 60, expires_at: now() + 3600, invitees, ...extra });
  assert.equal(r.status, 201, r.body);
  return r.json;
}

// A patient's browser: joins with the token and goes through consent and name.
async function patientToWaiting(token, name = 'Anna') {
  const ws = await wsConnect(k);
  const j = await ws.request({ type: 'join', token }, 'joined');
  assert.equal(j.type, 'joined', JSON.stringify(j));
  assert.equal(j.participant.state, 'consent');
  let m = await ws.request({ type: 'consent', accept: true, version: j.consent.version }, 'state');
  assert.equal(m.state, 'name');
  m = await ws.request({ type: 'name', display_name: name }, 'state');
  assert.equal(m.state, 'waiting');
  return { ws, joined: j };
}

describe('consults', () => {
  let doc, doc2;
  before(async () => {
    k = await startKamer();
    assert.equal(runCli(['admin', 'org', 'create', 'Praktijk C', '--data', k.dataDir]).status, 0);
    doc = await clinician('dr.c@praktijk-c.example');
    doc2 = await clinician('dr.d@praktijk-c.example');
  });
  after(async () => { if (k) await k.stop(); });

  test('the whole flow, and nothing personal left after the end', async () => {
    const consult = await create(doc, [{ email: 'patient.one@mail.example', kind: 'patient' }, { email: 'collega@zkh.example', kind: 'colleague' }]);
    assert.equal(consult.invitations.length, 2);
    assert.ok(consult.invitations.every((i) => i.sent));
    const mail = outbox().find((m) => m.includes('To: patient.one@mail.example'));
    assert.match(mail, /Praktijk C/);
    assert.ok(!mail.includes('spreekuur'), 'the label never goes into the email');
    assert.ok(!k.log().includes(tokenFor('patient.one@mail.example')), 'the token is not logged');

    const staff = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    const room = await staff.request({ type: 'watch', consult: consult.id }, 'room');
    assert.equal(room.type, 'room', JSON.stringify(room));

    const { ws: pat, joined } = await patientToWaiting(tokenFor('patient.one@mail.example'));
    assert.equal(joined.org, 'Praktijk C');
    assert.match(joined.consent.nl, /\S/);
    assert.match(joined.consent.en, /\S/);
    await staff.type('waiting_alert');
    const list = await staff.waitFor((m) => m.type === 'participants' && m.participants.some((p) => p.state === 'waiting'));
    const waiting = list.participants.find((p) => p.state === 'waiting');
    assert.equal(waiting.name, 'Anna');
    assert.equal(waiting.online, true);

    // Out of order: chat before admission, a participant admitting, admitting twice.
    let e = await pat.request({ type: 'chat', text: 'hallo?', ref: 'chat-1' }, 'chat');
    assert.deepEqual([e.type, e.code, e.ref], ['error', 'out_of_order', 'chat-1'], 'an error carries the ref of its message');
    e = await pat.request({ type: 'admit', participant: waiting.id }, 'state');
    assert.deepEqual([e.type, e.code], ['error', 'forbidden']);
    e = await pat.request({ type: 'consent', accept: true, version: 0 }, 'state');
    assert.deepEqual([e.type, e.code], ['error', 'out_of_order'], 'no second consent');

    staff.sendJson({ type: 'admit', participant: waiting.id });
    const adm = await pat.waitFor((m) => m.type === 'state');
    assert.equal(adm.state, 'admitted');
    e = await staff.request({ type: 'admit', participant: waiting.id }, 'never');
    assert.deepEqual([e.type, e.code], ['error', 'out_of_order'], 'admit of someone not waiting');

    // Chat both ways.
    pat.sendJson({ type: 'chat', text: 'Goedemorgen dokter' });
    const c1 = await staff.waitFor((m) => m.type === 'chat');
    assert.equal(c1.text, 'Goedemorgen dokter');
    staff.sendJson({ type: 'chat', text: 'Goedemorgen, hoe gaat het?' });
    const c2 = await pat.waitFor((m) => m.type === 'chat' && m.text.startsWith('Goedemorgen, hoe'));
    assert.ok(c2.ts > 0);
    assert.equal(sql("SELECT count(*) FROM chat WHERE CAST(sealed AS TEXT) LIKE '%Goedemorgen%'"), '0', 'chat is stored encrypted');

    // Reload: the browser's cookie brings the patient straight back, with the history.
    const ck = await new Client(k).post('/api/v1/participant/cookie', { resume: joined.resume });
    assert.equal(ck.status, 200);
    const pcookie = ck.headers['set-cookie'].find((s) => s.startsWith('__Host-kamer_participant='));
    for (const attr of ['Secure', 'HttpOnly', 'SameSite=Strict']) assert.ok(pcookie.includes(attr));
    pat.close();
    const again = await wsConnect(k, { cookie: pcookie.split(';')[0] });
    const back = await again.request({ type: 'resume' }, 'joined');
    assert.equal(back.participant.state, 'admitted');
    assert.deepEqual(back.chat.map((m) => m.text), ['Goedemorgen dokter', 'Goedemorgen, hoe gaat het?']);

    // The same link in another browser: flagged to the clinician, waits again.
    const other = await wsConnect(k);
    const o = await other.request({ type: 'join', token: tokenFor('patient.one@mail.example') }, 'joined');
    assert.equal(o.participant.other_device, true);
    const flagged = await staff.waitFor((m) => m.type === 'participants' && m.participants.some((p) => p.other_device));
    assert.ok(flagged);

    // End: everyone is told; the link is refused; personal data is gone.
    staff.sendJson({ type: 'end' });
    assert.equal((await again.type('ended')).reason, 'ended_by_clinician');
    assert.equal((await staff.type('ended')).reason, 'ended_by_clinician');
    const late = await wsConnect(k);
    e = await late.request({ type: 'join', token: tokenFor('patient.one@mail.example') }, 'joined');
    assert.deepEqual([e.type, e.code], ['error', 'link_invalid']);
    assert.equal(sql(`SELECT count(*) FROM invitations WHERE consult_id = ${consult.id} AND (email IS NOT NULL OR token_hash IS NOT NULL)`), '0');
    assert.equal(sql(`SELECT count(*) FROM participants WHERE consult_id = ${consult.id} AND (display_name IS NOT NULL OR cookie_hash IS NOT NULL)`), '0');
    assert.equal(sql(`SELECT count(*) FROM chat WHERE consult_id = ${consult.id}`), '0');
    assert.equal(sql(`SELECT count(*) FROM consults WHERE id = ${consult.id} AND room_key IS NOT NULL`), '0');
    assert.ok(Number(sql(`SELECT count(*) FROM calllog WHERE consult_id = ${consult.id}`)) >= 4, 'the call log stays');
    assert.equal(sql(`SELECT count(*) FROM calllog WHERE pseudonym LIKE '%@%' OR event LIKE '%Anna%'`), '0');
    for (const w of [late, other, again, staff]) w.close();
  });

  test('refused consent, refused admission', async () => {
    const consult = await create(doc, [{ email: 'p2@mail.example', kind: 'patient' }, { email: 'p3@mail.example', kind: 'patient' }]);
    const ws = await wsConnect(k);
    const j = await ws.request({ type: 'join', token: tokenFor('p2@mail.example') }, 'joined');
    const s = await ws.request({ type: 'consent', accept: false, version: j.consent.version }, 'state');
    assert.equal(s.state, 'refused');
    const e = await ws.request({ type: 'name', display_name: 'X' }, 'state');
    assert.equal(e.code, 'out_of_order');
    const staff = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    await staff.request({ type: 'watch', consult: consult.id }, 'room');
    const { ws: p3 } = await patientToWaiting(tokenFor('p3@mail.example'), 'Bert');
    const list = await staff.waitFor((m) => m.type === 'participants' && m.participants.some((p) => p.state === 'waiting'));
    staff.sendJson({ type: 'refuse', participant: list.participants.find((p) => p.state === 'waiting').id });
    assert.equal((await p3.waitFor((m) => m.type === 'state')).state, 'refused');
    assert.equal(sql(`SELECT given FROM consents WHERE consult_id = ${consult.id} ORDER BY rowid LIMIT 1`), '0');
    for (const w of [ws, staff, p3]) w.close();
  });

  test('a name of blanks or with a control character is refused as an invalid field, nothing saved; a good one goes on', async () => {
    const consult = await create(doc, [{ email: 'p9@mail.example', kind: 'patient' }]);
    const ws = await wsConnect(k);
    const j = await ws.request({ type: 'join', token: tokenFor('p9@mail.example') }, 'joined');
    assert.equal((await ws.request({ type: 'consent', accept: true, version: j.consent.version }, 'state')).state, 'name');
    for (const bad of ['   ', 'An\u007fna', 'Bo\u0007b']) {
      const e = await ws.request({ type: 'name', display_name: bad }, 'state');
      assert.deepEqual([e.type, e.code], ['error', 'invalid_field'], `${JSON.stringify(bad)}: ${JSON.stringify(e)}`);
      assert.match(e.message, /display_name/);
    }
    const where = `consult_id = ${consult.id}`;
    assert.equal(sql(`SELECT count(*) FROM participants WHERE ${where} AND display_name IS NOT NULL`), '0', 'no name saved');
    assert.equal(sql(`SELECT state FROM participants WHERE ${where}`), 'name', 'still at the name step');
    assert.equal((await ws.request({ type: 'name', display_name: 'Carla' }, 'state')).state, 'waiting');
    assert.equal(sql(`SELECT state || ' ' || display_name FROM participants WHERE ${where}`), 'waiting Carla');
    ws.close();
  });

  test('revoke and re-send: the old link stops working at once', async () => {
    const consult = await create(doc, [{ email: 'p4@mail.example', kind: 'patient' }]);
    const inv = consult.invitations[0];
    const old = tokenFor('p4@mail.example');
    let r = await doc.post(`/api/v1/invitations/${inv.id}/resend`, {});
    assert.equal(r.status, 200, r.body);
    const fresh = tokenFor('p4@mail.example');
    assert.notEqual(fresh, old);
    const ws = await wsConnect(k);
    let m = await ws.request({ type: 'join', token: old }, 'joined');
    assert.equal(m.code, 'link_invalid');
    m = await ws.request({ type: 'join', token: fresh }, 'joined');
    assert.equal(m.type, 'joined');
    r = await doc.post(`/api/v1/invitations/${inv.id}/revoke`, {});
    assert.equal(r.status, 200);
    const ws2 = await wsConnect(k);
    m = await ws2.request({ type: 'join', token: fresh }, 'joined');
    assert.equal(m.code, 'link_invalid');
    // Another clinician sees none of it.
    assert.equal((await doc2.post(`/api/v1/invitations/${inv.id}/resend`, {})).status, 404);
    assert.equal((await doc2.get(`/api/v1/consults/${consult.id}`)).status, 404);
    const staff2 = await wsConnect(k, { cookie: `${COOKIE}=${doc2.cookie}` });
    m = await staff2.request({ type: 'watch', consult: consult.id }, 'room');
    assert.equal(m.code, 'not_found');
    for (const w of [ws, ws2, staff2]) w.close();
  });

  test('100 parallel first joins with one token give exactly one participant', async () => {
    const consult = await create(doc, [{ email: 'race@mail.example', kind: 'patient' }]);
    const token = tokenFor('race@mail.example');
    const sockets = await Promise.all(Array.from({ length: 100 }, () => wsConnect(k)));
    const answers = await Promise.all(sockets.map((ws) => ws.request({ type: 'join', token }, 'joined')));
    const joined = answers.filter((m) => m.type === 'joined');
    assert.equal(joined.length, 100, JSON.stringify(answers.find((m) => m.type !== 'joined')));
    assert.equal(joined.filter((m) => m.participant.other_device === false).length, 1, 'exactly one first redemption');
    assert.equal(sql(`SELECT count(*) FROM participants WHERE consult_id = ${consult.id} AND other_device = 0`), '1');
    for (const ws of sockets) ws.close();
  });

  test('private messages with one waiting person, before admitting', async () => {
    const consult = await create(doc, [{ email: 'pm1@mail.example', kind: 'patient' }, { email: 'pm2@mail.example', kind: 'patient' }]);
    const staff = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    await staff.request({ type: 'watch', consult: consult.id }, 'room');
    const { ws: one } = await patientToWaiting(tokenFor('pm1@mail.example'), 'Een');
    const { ws: two } = await patientToWaiting(tokenFor('pm2@mail.example'), 'Twee');
    const list = await staff.waitFor((m) => m.type === 'participants' && m.participants.filter((p) => p.state === 'waiting').length === 2);
    const idOne = list.participants.find((p) => p.name === 'Een').id;
    staff.sendJson({ type: 'private', participant: idOne, text: 'Wat is uw geboortedatum?' });
    assert.equal((await one.type('private')).text, 'Wat is uw geboortedatum?');
    one.sendJson({ type: 'private', text: '1 april 1970' });
    const back = await staff.type('private');
    assert.deepEqual([back.participant, back.text], [idOne, '1 april 1970']);
    await assert.rejects(two.type('private', 500), 'the other waiting person sees nothing');
    staff.sendJson({ type: 'admit', participant: idOne });
    await one.waitFor((m) => m.type === 'state' && m.state === 'admitted');
    const e = await staff.request({ type: 'private', participant: idOne, text: 'x' }, 'never');
    assert.equal(e.code, 'out_of_order', 'only for someone who is waiting');
    for (const w of [staff, one, two]) w.close();
  });

  test('colleagues join without waiting; with reconsent_on_join the patient consents again', async () => {
    assert.equal(runCli(['admin', 'org', 'policy', 'Praktijk C', '--set', 'reconsent_on_join=1', '--data', k.dataDir]).status, 0);
    const consult = await create(doc, [{ email: 'rc-p@mail.example', kind: 'patient' }, { email: 'rc-c@zkh.example', kind: 'colleague' }]);
    const staff = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    await staff.request({ type: 'watch', consult: consult.id }, 'room');
    const { ws: pat } = await patientToWaiting(tokenFor('rc-p@mail.example'), 'Petra');
    const list = await staff.waitFor((m) => m.type === 'participants' && m.participants.some((p) => p.state === 'waiting'));
    staff.sendJson({ type: 'admit', participant: list.participants.find((p) => p.state === 'waiting').id });
    await pat.waitFor((m) => m.type === 'state' && m.state === 'admitted');
    // The colleague: no consent step, and (policy colleagues_wait = 0) no waiting room.
    const col = await wsConnect(k);
    const j = await col.request({ type: 'join', token: tokenFor('rc-c@zkh.example') }, 'joined');
    assert.equal(j.participant.state, 'name');
    assert.equal(j.consent, undefined);
    col.sendJson({ type: 'name', display_name: 'Dr. Collega' });
    assert.equal((await col.waitFor((m) => m.type === 'state')).state, 'admitted');
    // The patient is told who joined, by role, and must consent again.
    assert.equal((await pat.type('joined_room')).role, 'colleague');
    const rc = await pat.type('reconsent');
    assert.equal(rc.role, 'colleague');
    // Nothing else is possible until the patient answers.
    const e = await pat.request({ type: 'name', display_name: 'x' }, 'state');
    assert.equal(e.code, 'out_of_order');
    const s = await pat.request({ type: 'consent', accept: true, version: rc.consent.version }, 'state');
    assert.equal(s.state, 'admitted');
    assert.equal(sql(`SELECT count(*) FROM consents WHERE consult_id = ${consult.id} AND given = 1`), '2');
    assert.equal((await pat.request({ type: 'consent', accept: true, version: rc.consent.version }, 'state')).code, 'out_of_order');
    assert.equal(runCli(['admin', 'org', 'policy', 'Praktijk C', '--set', 'reconsent_on_join=0', '--data', k.dataDir]).status, 0);
    for (const w of [staff, pat, col]) w.close();
  });

  test("another consult's participant cannot be admitted", async () => {
    const a = await create(doc, [{ email: 'pa@mail.example', kind: 'patient' }]);
    const b = await create(doc2, [{ email: 'pb@mail.example', kind: 'patient' }]);
    const { ws: pa } = await patientToWaiting(tokenFor('pa@mail.example'), 'Aart');
    const pid = Number(sql(`SELECT id FROM participants WHERE consult_id = ${a.id}`));
    const staffB = await wsConnect(k, { cookie: `${COOKIE}=${doc2.cookie}` });
    await staffB.request({ type: 'watch', consult: b.id }, 'room');
    const e = await staffB.request({ type: 'admit', participant: pid }, 'never');
    assert.deepEqual([e.type, e.code], ['error', 'not_found']);
    assert.equal(sql(`SELECT state FROM participants WHERE id = ${pid}`), 'waiting');
    for (const ws of [pa, staffB]) ws.close();
  });

  test('someone whose connection silently dies leaves the waiting list within 30 s', async () => {
    const consult = await create(doc, [{ email: 'gone@mail.example', kind: 'patient' }]);
    const staff = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    await staff.request({ type: 'watch', consult: consult.id }, 'room');
    // A browser that stops answering (no pong to kamer's pings), TCP left open.
    const ws = await wsConnect(k, { autoPong: false });
    const j = await ws.request({ type: 'join', token: tokenFor('gone@mail.example') }, 'joined');
    await ws.request({ type: 'consent', accept: true, version: j.consent.version }, 'state');
    await ws.request({ type: 'name', display_name: 'Stil' }, 'state');
    await staff.waitFor((m) => m.type === 'participants' && m.participants.some((p) => p.state === 'waiting' && p.online));
    const t0 = Date.now();
    await staff.waitFor((m) => m.type === 'participants' && m.participants.some((p) => p.name === 'Stil' && !p.online), 35000);
    const s = (Date.now() - t0) / 1000;
    console.log(`silent participant left the waiting list after ${s.toFixed(1)} s`);
    assert.ok(s <= 30, `${s} s`);
    ws.terminate();
    staff.close();
  });

  test('bad input to the API changes nothing', async () => {
    const before = sql('SELECT count(*) FROM consults');
    const bad = [
      { starts_at: now(), expires_at: now() + 25 * 3600, invitees: [{ email: 'a@b.example', kind: 'patient' }] },
      { starts_at: now(), expires_at: now() - 10, invitees: [{ email: 'a@b.example', kind: 'patient' }] },
      { starts_at: now(), expires_at: now() + 60, invitees: [] },
      { starts_at: now(), expires_at: now() + 60, invitees: [{ email: 'not an email', kind: 'patient' }] },
      { starts_at: now(), expires_at: now() + 60, invitees: [{ email: 'a@b.example', kind: 'surgeon' }] },
      { starts_at: now(), expires_at: now() + 60, invitees: [{ email: 'a@b.example', kind: 'patient' }], reason: 'knee' },
      { starts_at: 'today', expires_at: now() + 60, invitees: [{ email: 'a@b.example', kind: 'patient' }] },
    ];
    for (const b of bad) {
      const r = await doc.post('/api/v1/consults', b);
      assert.equal(r.status, 400, JSON.stringify(b));
    }
    assert.equal(sql('SELECT count(*) FROM consults'), before);
  });

  test('expiry: everyone is disconnected, the link refused, the data gone', async () => {
    const consult = await create(doc, [{ email: 'p5@mail.example', kind: 'patient' }, { email: 'p7@mail.example', kind: 'patient' }]);
    const token = tokenFor('p5@mail.example');
    const staff = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    await staff.request({ type: 'watch', consult: consult.id }, 'room');
    const { ws: waiting } = await patientToWaiting(tokenFor('p7@mail.example'), 'Wacht');
    await advance(2 * 3600);
    const ws = await wsConnect(k);
    const m = await ws.request({ type: 'join', token }, 'joined');
    assert.equal(m.code, 'link_invalid', 'checked on every use');
    assert.equal((await new Client(k).post('/api/v1/test/expire', {})).status, 200); // the 30 s timer's work
    assert.equal((await staff.type('ended')).reason, 'expired');
    assert.equal((await waiting.type('ended')).reason, 'expired');
    assert.equal(sql(`SELECT count(*) FROM participants WHERE consult_id = ${consult.id} AND display_name IS NOT NULL`), '0');
    assert.equal(sql(`SELECT count(*) FROM invitations WHERE consult_id = ${consult.id} AND email IS NOT NULL`), '0');
    for (const w of [ws, staff, waiting]) w.close();
  });

  test('failed tokens are limited per address: then even a good one is refused', async () => {
    const docF = await clinician('dr.f@praktijk-c.example'); // the clock moved past doc's idle timeout
    await create(docF, [{ email: 'p6@mail.example', kind: 'patient' }]);
    // Earlier tests spent some of this address's budget: spend the rest, and
    // try the good token at once (the budget refills by one every 30 s).
    const ws = await wsConnect(k);
    for (let i = 0; i < 25; i++) {
      const m = await ws.request({ type: 'join', token: 'x'.repeat(43) }, 'joined');
      assert.equal(m.code, 'link_invalid');
    }
    const m = await ws.request({ type: 'join', token: tokenFor('p6@mail.example') }, 'joined');
    assert.equal(m.code, 'link_invalid', 'refused without checking');
    ws.close();
  });
  test('call log: read by the admin (audited), CSV, purge after the retention', async () => {
    const add = runCli(['admin', 'user', 'add', '--org', 'Praktijk C', '--role', 'admin', '--email', 'beheer@praktijk-c.example', '--data', k.dataDir],
      { KAMER_LISTEN: `127.0.0.1:${k.port}` });
    const token = add.stdout.match(/#([A-Za-z0-9_-]{43})/)[1];
    const admin = new Client(k);
    await admin.post('/api/v1/auth/setup', { token, password: PASSWORD });
    await admin.post('/api/v1/auth/signin', { email: 'beheer@praktijk-c.example', password: PASSWORD });
    const secret = (await admin.post('/api/v1/auth/enrol/start', {})).json.secret;
    await admin.post('/api/v1/auth/enrol/confirm', { code: totp(secret, now()) });
    let r = await admin.get('/api/v1/admin/calllog?limit=1000');
    assert.equal(r.status, 200);
    const events = r.json.rows.map((x) => x.event);
    for (const e of ['admitted', 'waiting', 'refused', 'ended']) assert.ok(events.includes(e), e);
    assert.ok(!r.body.includes('@') && !r.body.includes('Anna'), 'no email or name in the call log');
    // Every query argument counts, not only the first.
    r = await admin.get(`/api/v1/admin/calllog?after=${r.json.rows[0].id}&limit=2`);
    assert.equal(r.status, 200);
    assert.equal(r.json.rows.length, 2, 'limit=2 after after=');
    r = await admin.get('/api/v1/admin/calllog.csv');
    assert.match(r.body.split('\n')[0], /^id,consult_id,ts,event,role,pseudonym/);
    r = await admin.get('/api/v1/admin/audit?limit=1000');
    assert.ok(r.json.rows.some((x) => x.action === 'calllog.read'), 'reading the call log is audited');
    assert.ok(r.json.rows.some((x) => x.action === 'consent.given'));
    const doc3 = await clinician('dr.e@praktijk-c.example');
    assert.equal((await doc3.get('/api/v1/admin/calllog')).status, 403, 'a clinician may not read it');
    // "Active consults now": times, clinician and head counts, nothing else.
    r = await admin.get('/api/v1/admin/active');
    assert.equal(r.status, 200);
    const openBefore = r.json.open_consults;
    const made = await doc3.post('/api/v1/consults', { label: 'geheim label', starts_at: now() + 60, expires_at: now() + 3600,
      invitees: [{ email: 'active.patient@mail.example', kind: 'patient' }] });
    assert.equal(made.status, 201, made.body);
    r = await admin.get('/api/v1/admin/active');
    assert.equal(r.json.open_consults, openBefore + 1);
    assert.equal(r.json.consults.length, r.json.open_consults);
    const mine = r.json.consults.filter((x) => x.clinician === 'dr.e@praktijk-c.example');
    assert.equal(mine.length, 1);
    assert.deepEqual(Object.keys(mine[0]).sort(), ['clinician', 'in_call', 'started_at', 'starts_at', 'waiting']);
    assert.equal(mine[0].started_at, 0);
    assert.equal(mine[0].in_call, 0);
    assert.ok(!r.body.includes('geheim') && !r.body.includes('active.patient'), 'no label or invitee');
    assert.equal((await doc3.get('/api/v1/admin/active')).status, 403, 'a clinician may not read it');
    // Consent text versions: admins edit, old versions stay.
    r = await admin.put('/api/v1/admin/consent', { nl: 'Nieuwe toestemmingstekst.', en: 'New consent text.' });
    assert.equal(r.status, 200);
    assert.equal(r.json.version, 1);
    assert.equal((await admin.get('/api/v1/admin/consent')).json.en, 'New consent text.');
    // Purge after the retention (default 90 days). First let the expiry
    // timer's work happen now, so that no consult ends while we count.
    assert.equal((await new Client(k).post('/api/v1/test/expire', {})).status, 200);
    const before = Number(sql('SELECT count(*) FROM calllog'));
    assert.ok(before > 0);
    // By hand, now: nothing is older than the retention, nothing goes.
    const p = runCli(['admin', 'purge', '--data', k.dataDir]);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /call-log and consent rows removed: 0/);
    assert.equal(Number(sql('SELECT count(*) FROM calllog')), before);
    // The server's daily purge, 91 days later (kamer's test clock).
    await advance(91 * 86400);
    assert.equal((await new Client(k).post('/api/v1/test/retention', {})).status, 200);
    assert.equal(sql('SELECT count(*) FROM calllog'), '0');
    assert.equal(sql('SELECT count(*) FROM consents'), '0');
    assert.equal(runCli(['audit', 'verify', '--data', k.dataDir]).status, 0);
    assert.ok(Number(sql("SELECT count(*) FROM audit WHERE action = 'calllog.purge'")) >= 1, 'the purge is audited');
  });
});

// pii_logs.test.mjs — no personal data or secret in kamer's log. A whole
// consult runs over the API and WSS with recognisable values (the
// clinician's and the patient's email, the patient's name, a medical label,
// chat and private texts, the password, the TOTP secret, recovery codes,
// the set-up, invitation and participant tokens, every session cookie),
// plus hostile inputs that carry them (wrong sign-ins, bad tokens, unknown
// message types, query strings). Then kamer's whole log is searched for
// every one of them (also lower-cased, percent- and JSON-encoded, and each
// token's first 12 characters); every path it logged is checked too, and
// the error answers kamer gave must not repeat an email address.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startKamer } from '../integration/lib/kamer.mjs';
import { COOKIE, totp } from '../integration/lib/client.mjs';
import { advance, createConsult, makeOrg, nowOf, onboard, tokenFor } from './lib/flow.mjs';
import { AddrClient, httpsFrom, wsFrom } from './lib/net.mjs';

const PATIENT_EMAIL = 'pii-check-patient@example.org';
const CLINICIAN_EMAIL = 'pii.clinician@example.org';
const NAME = 'Zacharias Pii-Check';
const CHAT = 'secret chat text 4711';
const PRIVATE = 'private question about Zacharias 8806';
const LABEL = 'Knieklachten Zacharias 3317';
const PASSWORD = 'purple lantern 9183 over quiet dunes';
let k;

describe('no personal data in the log', () => {
  before(async () => { k = await startKamer(); });
  after(async () => { if (k) await k.stop(); });

  test('a whole consult, with hostile inputs, leaves nothing personal in the log', async () => {
    const secrets = { email: [PATIENT_EMAIL, CLINICIAN_EMAIL], name: [NAME, 'Zacharias', 'Pii-Check'], chat: [CHAT, PRIVATE, '4711'],
      label: [LABEL, 'Knieklachten'], password: [PASSWORD], token: [], cookie: [], totp: [], recovery: [] };
    const errors = []; // error answers kamer gave, to check that none repeats an email
    const keepErr = (r) => { if (r.status >= 400) errors.push(r.body); return r; };

    makeOrg(k, 'Praktijk PII');
    const doc = await onboard(k, { org: 'Praktijk PII', email: CLINICIAN_EMAIL, password: PASSWORD });
    secrets.token.push(doc.setupToken);
    secrets.totp.push(doc.secret);
    secrets.recovery.push(...doc.codes);

    // Sign out and in again (password, wrong code, right code), a wrong
    // password, an unknown account named like the patient, the password
    // given as the email.
    await doc.c.post('/api/v1/auth/signout', {});
    await advance(k, 31);
    const c = new AddrClient(k);
    keepErr(await c.post('/api/v1/auth/signin', { email: CLINICIAN_EMAIL, password: `${PASSWORD} wrong` }));
    keepErr(await c.post('/api/v1/auth/signin', { email: PATIENT_EMAIL, password: PASSWORD }));
    keepErr(await c.post('/api/v1/auth/signin', { email: PASSWORD, password: CLINICIAN_EMAIL }));
    await advance(k, 61); // past the throttle's delay
    assert.equal((await c.post('/api/v1/auth/signin', { email: CLINICIAN_EMAIL, password: PASSWORD })).status, 200);
    keepErr(await c.post('/api/v1/auth/totp', { code: totp(doc.secret, nowOf(k)) === '000000' ? '111111' : '000000' }));
    await advance(k, 61);
    const t = await c.post('/api/v1/auth/totp', { code: totp(doc.secret, nowOf(k)) });
    assert.equal(t.status, 200, t.body);
    // The user's own account calls that carry personal data.
    assert.equal((await c.get('/api/v1/auth/me')).status, 200);
    keepErr(await c.post('/api/v1/auth/password', { current: 'not my password at all', new: PASSWORD }));

    // The consult: bad input first, then the real one.
    const now = nowOf(k);
    keepErr(await c.post('/api/v1/consults', { label: LABEL, starts_at: now + 60, expires_at: now + 3600, invitees: [{ email: PATIENT_EMAIL, kind: 'surgeon' }] }));
    keepErr(await c.post('/api/v1/consults', { label: LABEL, starts_at: now + 60, expires_at: now + 3600, invitees: [{ email: `${NAME} <${PATIENT_EMAIL}>`, kind: 'patient' }] }));
    keepErr(await c.post('/api/v1/consults', { label: LABEL, starts_at: now + 60, expires_at: now + 3600, invitees: [{ email: PATIENT_EMAIL, kind: 'patient' }], note: NAME }));
    const consult = await createConsult(k, c, [{ email: PATIENT_EMAIL, kind: 'patient' }], { label: LABEL });
    const first = tokenFor(k, PATIENT_EMAIL);
    const resend = await c.post(`/api/v1/invitations/${consult.invitations[0].id}/resend`, {});
    assert.equal(resend.status, 200, resend.body);
    const token = tokenFor(k, PATIENT_EMAIL);
    assert.notEqual(token, first);
    secrets.token.push(first, token);
    assert.equal((await c.get(`/api/v1/consults/${consult.id}`)).status, 200);
    assert.equal((await c.get('/api/v1/consults')).status, 200);

    // The patient's browser: the link's page (also with personal data in a
    // query string), then the WSS join with bad tokens and the good one.
    assert.equal((await httpsFrom(k, '127.0.0.1', 'GET', `/j/${token}`)).status, 200);
    await httpsFrom(k, '127.0.0.1', 'GET', `/j/${token}?email=${encodeURIComponent(PATIENT_EMAIL)}&name=${encodeURIComponent(NAME)}`);
    await httpsFrom(k, '127.0.0.1', 'GET', `/healthz?email=${encodeURIComponent(PATIENT_EMAIL)}`);
    const staff = await wsFrom(k, { cookie: `${COOKIE}=${c.cookie}` });
    assert.equal((await staff.request({ type: 'watch', consult: consult.id }, 'room')).type, 'room');
    const pat = await wsFrom(k);
    for (const bad of [PATIENT_EMAIL, first, `${token.slice(0, 42)}x`]) {
      assert.equal((await pat.request({ type: 'join', token: bad }, 'joined')).code, 'link_invalid');
    }
    assert.equal((await pat.request({ type: PATIENT_EMAIL }, 'never')).type, 'error');
    assert.equal((await pat.request({ type: 'resume', token }, 'joined')).type, 'error');
    const j = await pat.request({ type: 'join', token }, 'joined');
    assert.equal(j.type, 'joined', JSON.stringify(j));
    secrets.cookie.push(j.resume);
    const pc = await new AddrClient(k).post('/api/v1/participant/cookie', { resume: j.resume });
    assert.equal(pc.status, 200);
    assert.equal((await pat.request({ type: 'consent', accept: true, version: j.consent.version }, 'state')).state, 'name');
    assert.equal((await pat.request({ type: 'name', display_name: `${NAME}\u0007` }, 'state')).type, 'error');
    assert.equal((await pat.request({ type: 'name', display_name: NAME }, 'state')).state, 'waiting');
    const list = await staff.waitFor((m) => m.type === 'participants' && m.participants.some((p) => p.state === 'waiting'));
    const who = list.participants.find((p) => p.state === 'waiting');
    assert.equal(who.name, NAME);
    staff.sendJson({ type: 'private', participant: who.id, text: PRIVATE });
    assert.equal((await pat.type('private')).text, PRIVATE);
    pat.sendJson({ type: 'private', text: `${PRIVATE} answer` });
    await staff.type('private');
    assert.equal((await pat.request({ type: 'chat', text: CHAT }, 'chat')).code, 'out_of_order');
    staff.sendJson({ type: 'admit', participant: who.id });
    assert.equal((await pat.waitFor((m) => m.type === 'state')).state, 'admitted');
    pat.sendJson({ type: 'chat', text: CHAT });
    assert.equal((await staff.waitFor((m) => m.type === 'chat')).text, CHAT);
    staff.sendJson({ type: 'chat', text: `${CHAT} reply` });
    await pat.waitFor((m) => m.type === 'chat' && m.text.endsWith('reply'));
    // A reload: the participant cookie brings the patient back.
    pat.close();
    const back = await wsFrom(k, { cookie: `__Host-kamer_participant=${j.resume}` });
    assert.equal((await back.request({ type: 'resume' }, 'joined')).type, 'joined');
    staff.sendJson({ type: 'end' });
    await staff.type('ended');
    back.close();
    staff.close();
    keepErr(await c.post(`/api/v1/consults/${consult.id}/end`, {}));

    for (const cl of [doc.c, c]) for (const sc of cl.setCookies) {
      const v = sc.split(';')[0].split('=').slice(1).join('=');
      if (v) secrets.cookie.push(v);
    }
    secrets.cookie.push(...doc.cookies);
    assert.ok(secrets.cookie.length >= 4, 'session and participant cookies were collected');

    // The log, searched for every secret in every spelling we can think of.
    await new Promise((r) => setTimeout(r, 300)); // let the last lines reach the file
    const log = k.log();
    const lower = log.toLowerCase();
    const lines = log.split('\n').length;
    const found = [];
    for (const [kind, values] of Object.entries(secrets)) {
      for (const v of values) {
        const forms = new Set([v, v.toLowerCase(), encodeURIComponent(v), JSON.stringify(v).slice(1, -1)]);
        if (['token', 'cookie', 'totp', 'recovery'].includes(kind) && v.length >= 16) forms.add(v.slice(0, 12));
        if (kind === 'totp') forms.add(v.replace(/=+$/, ''));
        for (const f of forms) {
          if (f.length < 4) continue;
          const hit = kind === 'email' || kind === 'name' || kind === 'label' ? lower.includes(f.toLowerCase()) : log.includes(f);
          if (hit) found.push(`${kind}: ${f.slice(0, 20)}… in: ${log.split('\n').find((l) => (kind === 'email' || kind === 'name' || kind === 'label' ? l.toLowerCase().includes(f.toLowerCase()) : l.includes(f)))}`);
        }
      }
    }
    assert.deepEqual(found, [], 'personal data or secrets in the log');
    // No address at all, apart from the placeholder in kamer's first-run hint.
    const addresses = (log.match(/[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}/gi) || []).filter((a) => a !== 'you@example.org');
    assert.deepEqual(addresses, [], 'email addresses in the log');

    // Client addresses: only their /24 and a per-run tag, never whole.
    const ips = [...log.matchAll(/\bip=(\S+)/g)].map((m) => m[1]);
    assert.ok(ips.length > 10, 'client addresses are logged (cut)');
    for (const ip of ips) assert.match(ip, /^\d+\.\d+\.\d+\.0\/24~[0-9a-f]{6}$/, `a client address logged as ${ip}`);

    // Every logged path: join links cut to /j/-, no query string.
    const paths = [...log.matchAll(/path=("(?:[^"\\]|\\.)*"|\S+)/g)].map((m) => m[1].replace(/^"|"$/g, ''));
    assert.ok(paths.some((p) => p === '/j/-'), 'the join page request was logged, cut');
    for (const p of paths) {
      assert.ok(!p.startsWith('/j/') || p === '/j/-', `a join link logged as ${p}`);
      assert.ok(!p.includes('?'), `a query string logged: ${p}`);
    }

    // Error answers name the field, never repeat the address.
    assert.ok(errors.length >= 5, `error answers collected: ${errors.length}`);
    for (const e of errors) for (const email of secrets.email) assert.ok(!e.toLowerCase().includes(email), `an error answer repeats ${email}: ${e}`);
    console.log(`log: ${lines} lines, ${paths.length} logged paths; searched for ${Object.values(secrets).flat().length} values ` +
      `(${Object.entries(secrets).map(([kk, v]) => `${kk} ${v.length}`).join(', ')}): none found; ${errors.length} error answers clean`);
  });
});

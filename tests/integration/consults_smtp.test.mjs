// consults_smtp.test.mjs — invitations sent over SMTP by a running kamer:
// STARTTLS with a password from a 0600 file and the test CA; the message
// arrives at a real SMTP server on 127.0.0.1 and the invitation shows as
// sent; a server that offers no STARTTLS is refused and the clinician's view
// shows why.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, startKamer, tempDir } from './lib/kamer.mjs';
import { Client, totp } from './lib/client.mjs';
import { makeCa, makeServerCert, startSmtp } from './lib/smtp_server.mjs';

const PASSWORD = 'correct horse battery staple 42';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function clinician(k, org, email) {
  const add = runCli(['admin', 'user', 'add', '--org', org, '--role', 'clinician', '--email', email, '--data', k.dataDir],
    { KAMER_LISTEN: `127.0.0.1:${k.port}` });
  const token = add.stdout.match(/#([A-Za-z0-9_-]{43})/)[1];
  const c = new Client(k);
  await c.post('/api/v1/auth/setup', { token, password: PASSWORD });
  await c.post('/api/v1/auth/signin', { email, password: PASSWORD });
  const secret = (await c.post('/api/v1/auth/enrol/start', {})).json.secret;
  assert.equal((await c.post('/api/v1/auth/enrol/confirm', { code: totp(secret, Math.floor(Date.now() / 1000)) })).status, 200);
  return c;
}

// Polls the consult until its first invitation is sent or has an error.
async function settled(c, id) {
  for (let i = 0; i < 100; i++) {
    const inv = (await c.get(`/api/v1/consults/${id}`)).json.invitations[0];
    if (inv.sent || inv.send_error) return inv;
    await sleep(100);
  }
  throw new Error('the invitation was neither sent nor failed within 10 s');
}

for (const [name, starttls] of [['STARTTLS server: delivered', true], ['server without STARTTLS: refused, shown', false]]) {
  describe(`invitations over SMTP — ${name}`, () => {
    let k, srv, dir;
    before(async () => {
      dir = tempDir('kamer-smtp-');
      makeCa(dir, 'ca');
      const creds = makeServerCert(dir, 'ca', 'server', 'IP:127.0.0.1,DNS:localhost');
      srv = await startSmtp({ starttls, creds, auth: { user: 'kamer', pass: 'mail-s3cret' } });
      fs.writeFileSync(path.join(dir, 'smtp.pass'), 'mail-s3cret\n', { mode: 0o600 });
      k = await startKamer({ env: {
        KAMER_SMTP_URL: `smtp://127.0.0.1:${srv.port}`, KAMER_SMTP_USERNAME: 'kamer',
        KAMER_SMTP_PASSWORD_FILE: path.join(dir, 'smtp.pass'), KAMER_SMTP_CA_FILE: path.join(dir, 'ca.pem'),
        KAMER_MAIL_FROM: 'uitnodiging@praktijk-s.example',
      } });
      assert.equal(runCli(['admin', 'org', 'create', 'Praktijk S', '--data', k.dataDir]).status, 0);
    });
    after(async () => { await k?.stop(); await srv?.close(); });

    test('the invitation', async () => {
      const c = await clinician(k, 'Praktijk S', 'dr.s@praktijk-s.example');
      const now = Math.floor(Date.now() / 1000);
      const r = await c.post('/api/v1/consults', { starts_at: now + 60, expires_at: now + 3600, invitees: [{ email: 'patient@mail.example', kind: 'patient' }] });
      assert.equal(r.status, 201, r.body);
      const inv = await settled(c, r.json.id);
      if (starttls) {
        assert.equal(inv.sent, true, JSON.stringify(inv));
        assert.equal(srv.messages.length, 1);
        const m = srv.messages[0];
        assert.equal(m.secure, true, 'delivered over TLS');
        assert.deepEqual(m.to, ['<patient@mail.example>']);
        assert.equal(m.from, '<uitnodiging@praktijk-s.example>');
        assert.match(m.data.toString('latin1').replace(/=\r\n/g, ''), /\/j\/[A-Za-z0-9_-]{43}/);
        assert.equal(fs.readdirSync(path.join(k.dataDir, 'outbox')).length, 0, 'nothing in the outbox');
      } else {
        assert.equal(inv.sent, false);
        assert.match(inv.send_error, /STARTTLS/);
        assert.equal(srv.messages.length, 0);
      }
      assert.ok(!k.log().includes('mail-s3cret'), 'the SMTP password is never logged');
    });
  });
}

// smtp.test.mjs — km_mail_smtp_send against a real SMTP server on 127.0.0.1:
// a small SMTP server written here on node:net/node:tls (STARTTLS, implicit
// TLS, AUTH PLAIN, scripted failures) with a throwaway CA and certificate
// made by openssl for this run. The C side is tests/tools/smtp_send (make
// tools), which composes with km_mail_compose and sends.
//
// Checks: the message arrives byte for byte (STARTTLS and smtps://), with the
// right envelope; dot-stuffing round-trips; a server without STARTTLS is
// refused before credentials or mail are sent; an unknown CA and a wrong
// host name are refused; a wrong password gives "authentication failed";
// connection refused; a 4xx is retried and then delivered; a 5xx is not
// retried.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { freePort, tempDir } from './lib/kamer.mjs';
import { makeCa, makeServerCert, startSmtp } from './lib/smtp_server.mjs';

function toolPath() {
  if (process.env.SMTP_SEND_BIN) return path.resolve(process.env.SMTP_SEND_BIN);
  const cands = [];
  if (process.env.KAMER_BIN) cands.push(path.join(path.dirname(path.resolve(process.env.KAMER_BIN)), 'tests/tools/smtp_send'));
  cands.push(path.resolve('build/asan/tests/tools/smtp_send'), path.resolve('build/release/tests/tools/smtp_send'));
  const found = cands.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`smtp_send not built (run make tools); looked in ${cands.join(', ')}`);
  return found;
}

function send(args) {
  return new Promise((resolve) => {
    execFile(toolPath(), args, { timeout: 60000 }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

const FROM = 'noreply@kamer.example';
const TO = 'patient@example.org';
const LINK = 'https://kamer.example/j/q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c';

describe('SMTP transport (km_mail_smtp_send)', () => {
  let dir;
  let creds;
  let wrongHost;
  before(() => {
    dir = tempDir('kamer-smtp-');
    makeCa(dir, 'ca');
    makeCa(dir, 'otherca');
    creds = makeServerCert(dir, 'ca', 'server', 'IP:127.0.0.1,DNS:localhost');
    wrongHost = makeServerCert(dir, 'ca', 'wronghost', 'DNS:mail.elsewhere.example');
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  const common = (port, extra = []) => ['--url', `smtp://127.0.0.1:${port}`, '--from', FROM, '--to', TO,
    '--ca', path.join(dir, 'ca.pem'), '--attempts', '1', '--timeout', '10', ...extra];
  const invite = (save) => ['--org', 'Huisartsenpraktijk De Linde', '--link', LINK, '--starts', '1772544600', '--save', save];

  test('STARTTLS with AUTH: the invitation arrives intact', async () => {
    const srv = await startSmtp({ starttls: true, creds, auth: { user: 'kamer', pass: 's3cret' } });
    try {
      const save = path.join(dir, 'sent1.eml');
      const r = await send([...common(srv.port, ['--user', 'kamer', '--pass', 's3cret']), ...invite(save)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(srv.messages.length, 1);
      const m = srv.messages[0];
      assert.equal(m.secure, true);
      assert.equal(m.from, `<${FROM}>`);
      assert.deepEqual(m.to, [`<${TO}>`]);
      assert.ok(m.data.equals(fs.readFileSync(save)), 'received bytes equal the composed message');
      const text = m.data.toString('latin1');
      assert.match(text, /^Subject: Uitnodiging voor een videoconsult \/ Invitation to a video consult\r$/m);
      assert.match(text, /^Content-Transfer-Encoding: quoted-printable\r$/m);
      assert.ok(text.includes(LINK.slice(0, 60)), 'the link is in the body');
      assert.match(text, /dinsdag 3 maart 2026 om 14:30 uur/);
      // credentials went only over TLS, after STARTTLS
      assert.ok(srv.events.some((e) => e === '0:plain:STARTTLS'));
      assert.ok(srv.events.includes('0:tls:AUTH ok'));
      assert.ok(!srv.events.some((e) => e.includes(':plain:AUTH') || e.includes(':plain:MAIL')));
    } finally { await srv.close(); }
  });

  test('implicit TLS (smtps://) without AUTH, and dot-stuffing round-trips', async () => {
    const srv = await startSmtp({ implicitTls: true, creds });
    try {
      const msgFile = path.join(dir, 'dots.eml');
      const raw = 'From: <noreply@kamer.example>\r\nTo: <patient@example.org>\r\nSubject: dots\r\n\r\n.leading dot\r\n.\r\n..two\r\nend\r\n';
      fs.writeFileSync(msgFile, raw);
      const args = common(srv.port, ['--msg', msgFile]);
      args[1] = `smtps://127.0.0.1:${srv.port}`;
      const r = await send(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(srv.messages.length, 1);
      assert.equal(srv.messages[0].data.toString('latin1'), raw);
    } finally { await srv.close(); }
  });

  test('a server without STARTTLS is refused before credentials or mail', async () => {
    const srv = await startSmtp({ starttls: false, auth: { user: 'kamer', pass: 's3cret' } });
    try {
      const r = await send([...common(srv.port, ['--user', 'kamer', '--pass', 's3cret', '--attempts', '3']), ...invite(path.join(dir, 'x.eml'))]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /EPERM: SMTP server does not offer STARTTLS$/m);
      assert.equal(srv.messages.length, 0);
      assert.equal(srv.connections, 1, 'a permanent refusal is not retried');
      assert.ok(!srv.events.some((e) => /AUTH|MAIL/.test(e)), srv.events.join(','));
    } finally { await srv.close(); }
  });

  test('a certificate from another CA is refused', async () => {
    const srv = await startSmtp({ starttls: true, creds });
    try {
      const args = common(srv.port);
      args[args.indexOf('--ca') + 1] = path.join(dir, 'otherca.pem');
      const r = await send([...args, ...invite(path.join(dir, 'y.eml'))]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /EPERM: SMTP server certificate not trusted$/m);
      assert.equal(srv.messages.length, 0);
      assert.ok(!srv.events.some((e) => /MAIL/.test(e)));
    } finally { await srv.close(); }
  });

  test('a certificate for another host name is refused', async () => {
    const srv = await startSmtp({ starttls: true, creds: wrongHost });
    try {
      const r = await send([...common(srv.port), ...invite(path.join(dir, 'z.eml'))]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /SMTP server certificate not trusted$/m);
      assert.equal(srv.messages.length, 0);
    } finally { await srv.close(); }
  });

  test('a wrong password gives "authentication failed"', async () => {
    const srv = await startSmtp({ starttls: true, creds, auth: { user: 'kamer', pass: 's3cret' } });
    try {
      const r = await send([...common(srv.port, ['--user', 'kamer', '--pass', 'wrong', '--attempts', '3']), ...invite(path.join(dir, 'w.eml'))]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /EPERM: authentication failed$/m);
      assert.equal(srv.messages.length, 0);
      assert.equal(srv.connections, 1);
    } finally { await srv.close(); }
  });

  test('nobody listening gives "connection refused"', async () => {
    const port = await freePort();
    const r = await send([...common(port), ...invite(path.join(dir, 'c.eml'))]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /EIO: connection refused \(1 attempt\)$/m);
  });

  test('a temporary 4xx is retried and then delivered', async () => {
    const srv = await startSmtp({ starttls: true, creds, script: { 0: '421 4.3.2 try again later' } });
    try {
      const save = path.join(dir, 'retry.eml');
      const r = await send([...common(srv.port, ['--attempts', '2']), ...invite(save)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(srv.connections, 2);
      assert.equal(srv.messages.length, 1);
      assert.ok(srv.messages[0].data.equals(fs.readFileSync(save)));
    } finally { await srv.close(); }
  });

  test('a permanent 5xx is not retried', async () => {
    const srv = await startSmtp({ starttls: true, creds, script: { 0: '550 5.7.1 sender rejected', 1: '550 5.7.1 sender rejected' } });
    try {
      const r = await send([...common(srv.port, ['--attempts', '3']), ...invite(path.join(dir, 'p.eml'))]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /EPERM: SMTP server refused the message \(reply 550\)$/m);
      assert.equal(srv.connections, 1);
      assert.equal(srv.messages.length, 0);
    } finally { await srv.close(); }
  });
});

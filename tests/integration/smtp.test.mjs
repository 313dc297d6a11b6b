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

function toolPath() {
  if (process.env.SMTP_SEND_BIN) return path.resolve(process.env.SMTP_SEND_BIN);
  const cands = [];
  if (process.env.KAMER_BIN) cands.push(path.join(path.dirname(path.resolve(process.env.KAMER_BIN)), 'tests/tools/smtp_send'));
  cands.push(path.resolve('build/asan/tests/tools/smtp_send'), path.resolve('build/release/tests/tools/smtp_send'));
  const found = cands.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`smtp_send not built (run make tools); looked in ${cands.join(', ')}`);
  return found;
}

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

// A CA and a server certificate for 127.0.0.1 (or for `san`), in dir.
function makeCa(dir, name) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign',
    '-keyout', `${name}.key`, '-out', `${name}.pem`], dir);
}

function makeServerCert(dir, ca, name, san) {
  fs.writeFileSync(path.join(dir, `${name}.ext`),
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=smtp-test',
    '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  return { key: fs.readFileSync(path.join(dir, `${name}.key`)), cert: fs.readFileSync(path.join(dir, `${name}.pem`)) };
}

// A minimal ESMTP server. opts: starttls (offer STARTTLS), implicitTls,
// creds ({key, cert}), auth ({user, pass}) required before MAIL,
// script: per connection index, an SMTP reply to give instead of 250 to
// MAIL FROM (e.g. '421 try later', '550 no').
async function startSmtp(opts) {
  const port = await freePort();
  const ctx = opts.creds ? tls.createSecureContext(opts.creds) : null;
  const srv = { port, messages: [], events: [], connections: 0, sockets: new Set() };
  const handler = (sock) => {
    const conn = srv.connections++;
    srv.sockets.add(sock);
    sock.on('close', () => srv.sockets.delete(sock));
    session(sock, opts, ctx, srv, conn, !!opts.implicitTls);
  };
  srv.server = opts.implicitTls ? tls.createServer(opts.creds, handler) : net.createServer(handler);
  await new Promise((resolve) => srv.server.listen(port, '127.0.0.1', resolve));
  srv.close = () => new Promise((resolve) => {
    for (const s of srv.sockets) s.destroy();
    srv.server.close(() => resolve());
  });
  return srv;
}

function session(sock, opts, ctx, srv, conn, secureAtStart) {
  let cur = sock;
  let secure = secureAtStart;
  let authed = false;
  let buf = '';
  let mode = 'cmd'; // cmd | data | authplain
  let env = null;
  let data = '';
  const say = (s) => cur.write(`${s}\r\n`);
  const ev = (e) => srv.events.push(`${conn}:${secure ? 'tls' : 'plain'}:${e}`);
  cur.on('error', () => {});
  const checkPlain = (b64) => {
    const [, user, pass] = Buffer.from(b64, 'base64').toString('utf8').split('\0');
    authed = !!opts.auth && user === opts.auth.user && pass === opts.auth.pass;
    ev(authed ? 'AUTH ok' : 'AUTH fail');
    say(authed ? '235 2.7.0 Authentication successful' : '535 5.7.8 Authentication credentials invalid');
  };
  const onLine = (line) => {
    if (mode === 'data') {
      if (line === '.') {
        srv.messages.push({ ...env, data: Buffer.from(data, 'latin1'), secure });
        ev('DATA done');
        mode = 'cmd'; env = null; data = '';
        return say('250 2.0.0 queued');
      }
      data += (line.startsWith('.') ? line.slice(1) : line) + '\r\n';
      return;
    }
    if (mode === 'authplain') { mode = 'cmd'; return checkPlain(line); }
    const [verb, ...rest] = line.split(' ');
    const arg = rest.join(' ');
    switch (verb.toUpperCase()) {
      case 'EHLO': {
        ev('EHLO');
        const caps = ['250-localhost'];
        if (opts.starttls && !secure) caps.push('250-STARTTLS');
        if (opts.auth && secure) caps.push('250-AUTH PLAIN');
        caps.push('250 SIZE 1000000');
        return cur.write(caps.map((c) => `${c}\r\n`).join(''));
      }
      case 'HELO': return say('250 localhost');
      case 'STARTTLS': {
        if (!opts.starttls || secure) return say('454 4.7.0 TLS not available');
        ev('STARTTLS');
        say('220 2.0.0 Ready to start TLS');
        cur.removeAllListeners('data');
        const t = new tls.TLSSocket(cur, { isServer: true, secureContext: ctx });
        t.on('error', () => {});
        t.on('data', onData);
        cur = t; secure = true; buf = '';
        return;
      }
      case 'AUTH': {
        const [mech, ir] = arg.split(' ');
        if (!opts.auth || !secure || mech.toUpperCase() !== 'PLAIN') return say('504 5.5.4 Unrecognized authentication type');
        if (ir) return checkPlain(ir);
        mode = 'authplain';
        return say('334 ');
      }
      case 'MAIL': {
        ev('MAIL');
        if (opts.auth && !authed) return say('530 5.7.0 Authentication required');
        const scripted = opts.script && opts.script[conn];
        if (scripted) return say(scripted);
        env = { from: (arg.match(/<[^>]*>/) || [''])[0], to: [] };
        return say('250 2.1.0 Ok');
      }
      case 'RCPT':
        if (!env) return say('503 5.5.1 need MAIL');
        env.to.push((arg.match(/<[^>]*>/) || [''])[0]);
        return say('250 2.1.5 Ok');
      case 'DATA':
        if (!env || env.to.length === 0) return say('503 5.5.1 need RCPT');
        mode = 'data';
        return say('354 End data with <CR><LF>.<CR><LF>');
      case 'RSET': env = null; return say('250 2.0.0 Ok');
      case 'NOOP': return say('250 2.0.0 Ok');
      case 'QUIT': say('221 2.0.0 Bye'); return cur.end();
      default: return say('502 5.5.2 Command not recognized');
    }
  };
  function onData(chunk) {
    buf += chunk.toString('latin1');
    let i;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      onLine(line);
    }
  }
  cur.on('data', onData);
  say('220 localhost ESMTP kamer-test');
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

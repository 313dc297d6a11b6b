// smtp_server.mjs — a minimal ESMTP server for tests on node:net/node:tls
// (STARTTLS, implicit TLS, AUTH PLAIN, scripted failures), and a throwaway
// CA and server certificate made with the openssl command for the run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { freePort } from './kamer.mjs';

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

// A CA and a server certificate for 127.0.0.1 (or for `san`), in dir.
export function makeCa(dir, name) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign',
    '-keyout', `${name}.key`, '-out', `${name}.pem`], dir);
}

export function makeServerCert(dir, ca, name, san) {
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
export async function startSmtp(opts) {
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


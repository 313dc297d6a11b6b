// kamer.mjs — starts and stops a kamer server for tests: 127.0.0.1, a free
// port, a temporary data folder; stopped by its PID. Every wait is bounded.
// As root (the CI), `kamer serve` drops to an unprivileged user: the helpers
// then make TEST_USER (once), give it the data folders and pass KAMER_USER.
// Not root: nothing changes.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BIN = path.resolve(process.env.KAMER_BIN || 'build/release/kamer');

export const TEST_USER = 'kamer-test';
export const AS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

// Makes the system user name unless it exists (another test process may be
// making it at the same moment: useradd then fails, and we look again).
export function ensureUser(name = TEST_USER) {
  for (let i = 0; i < 20; i++) {
    if (spawnSync('id', ['-u', name]).status === 0) return;
    spawnSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name]);
    if (spawnSync('id', ['-u', name]).status === 0) return;
    spawnSync('sleep', ['0.2']);
  }
  throw new Error(`cannot create the system user ${name} (useradd)`);
}

// Gives the folder and everything in it to user (chown -R USER: DIR).
export function chownTree(dir, user = TEST_USER) {
  const r = spawnSync('chown', ['-R', `${user}:`, dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`chown -R ${user}: ${dir} failed: ${r.stderr}`);
}

// As root, kamer reads web/ after dropping to the test user, and the
// checkout may sit in a folder only root can enter: serve a copy the test
// user owns (made once per test process).
let webCopy = null;
function webDir() {
  if (!webCopy) {
    webCopy = fs.mkdtempSync(path.join(os.tmpdir(), 'kamer-web-'));
    fs.cpSync(path.resolve('web'), webCopy, { recursive: true });
    chownTree(webCopy);
  }
  return webCopy;
}

// The environment kamer runs with under the tests: as root, the test user.
function rootEnv() {
  if (!AS_ROOT) return {};
  ensureUser();
  return { KAMER_USER: TEST_USER, KAMER_WEB_DIR: webDir() };
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'kamer-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (AS_ROOT) {
    ensureUser();
    chownTree(dir);
  }
  return dir;
}

export function runCli(args, env = {}) {
  const r = spawnSync(BIN, args, { env: { ...process.env, ...rootEnv(), ...env }, encoding: 'utf8', timeout: 30000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves to {status, headers, body, json} for one HTTPS request that
// verifies the server certificate against ca.
export function request(port, ca, method, urlPath, body, extraHeaders = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const req = https.request(
      {
        host: '127.0.0.1', port, method, path: urlPath, ca, servername: 'localhost', agent: false,
        headers: { ...(data !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}), ...extraHeaders },
        timeout: 10000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, body: text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// Starts kamer serve. Options: dataDir (default: new temp folder), port
// (default: free), env, args. Resolves once /healthz answers over TLS
// verified against the development CA. As root, the data folder is given to
// the test user first (files a test or an admin command made there as root).
export async function startKamer(opts = {}) {
  const dataDir = opts.dataDir || tempDir();
  if (AS_ROOT && !opts.keepOwner && fs.existsSync(dataDir)) chownTree(dataDir);
  const port = opts.port || (await freePort());
  const logPath = path.join(dataDir, '..', `${path.basename(dataDir)}.log`);
  const log = fs.openSync(logPath, 'a');
  const child = spawn(BIN, ['serve', '--data', dataDir, '--listen', `127.0.0.1:${port}`, ...(opts.args || [])], {
    env: { ...process.env, ...rootEnv(), KAMER_TEST_HOOKS: 'true', ...(opts.env || {}) },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  const caPath = path.join(dataDir, 'certs', 'dev-ca.pem');
  const deadline = Date.now() + 20000;
  for (let i = 0; i < 400 && Date.now() < deadline; i++) {
    if (exited) throw new Error(`kamer exited early (${JSON.stringify(exited)}):\n${fs.readFileSync(logPath, 'utf8')}`);
    if (fs.existsSync(caPath)) {
      try {
        const ca = fs.readFileSync(caPath);
        const r = await request(port, ca, 'GET', '/healthz');
        if (r.status === 200) {
          return {
            port, dataDir, ca, caPath, logPath, child, pid: child.pid,
            exited: () => exited,
            log: () => fs.readFileSync(logPath, 'utf8'),
            req: (method, p, body, headers) => request(port, ca, method, p, body, headers),
            stop: (signal = 'SIGTERM', timeoutMs = 8000) => stopKamer(child, () => exited, signal, timeoutMs),
          };
        }
      } catch { /* not up yet */ }
    }
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`kamer did not answer /healthz within 20 s:\n${fs.readFileSync(logPath, 'utf8')}`);
}

async function stopKamer(child, exited, signal, timeoutMs) {
  if (exited()) return { ...exited(), ms: 0 };
  const t0 = Date.now();
  process.kill(child.pid, signal);
  while (!exited() && Date.now() - t0 < timeoutMs) await sleep(20);
  if (!exited()) {
    process.kill(child.pid, 'SIGKILL');
    while (!exited() && Date.now() - t0 < timeoutMs + 5000) await sleep(20);
    return { code: null, signal: 'SIGKILL', ms: Date.now() - t0, forced: true };
  }
  return { ...exited(), ms: Date.now() - t0 };
}

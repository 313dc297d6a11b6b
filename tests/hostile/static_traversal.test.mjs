// static_traversal.test.mjs — path traversal on kamer's static files. kamer
// serves a copy of web/ (KAMER_WEB_DIR) next to which lie files it must never
// serve: a kamer.conf and a secret beside web/, a sibling folder whose name
// starts with "web", a hidden file inside web/, and symbolic links inside
// web/ that point out of it (to the secret, the sibling, /etc/passwd, the
// parent folder). Every request (dot segments plain, percent-encoded,
// double-encoded, overlong UTF-8, backslashes, NUL, absolute-form, over
// HTTP/1.1 and HTTP/2, and the data folder's server key) must either fail
// or return the bytes of a real file inside web/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AS_ROOT, chownTree, startKamer } from '../integration/lib/kamer.mjs';
import { h2Request, rawHttp1 } from './lib/net.mjs';

const REPO_WEB = path.resolve('web');
let k, site, canaries, webFiles, dataBase;

// Every regular, non-hidden file under dir (symbolic links not followed).
function filesUnder(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function plant() {
  site = fs.mkdtempSync(path.join(os.tmpdir(), 'kamer-site-'));
  fs.cpSync(REPO_WEB, path.join(site, 'web'), { recursive: true });
  const web = path.join(site, 'web');
  webFiles = new Set(filesUnder(web).map((f) => fs.readFileSync(f).toString('latin1')));
  canaries = {};
  const put = (rel, name) => {
    const c = `CANARY-${name}-${Math.random().toString(36).slice(2)}`;
    fs.mkdirSync(path.dirname(path.join(site, rel)), { recursive: true });
    fs.writeFileSync(path.join(site, rel), `${c}\n`);
    canaries[name] = c;
  };
  put('kamer.conf', 'conf');
  put('secret.txt', 'secret');
  put('webx/page.html', 'sibling');
  put('webx/index.html', 'sibling-index');
  put('web/.hidden.txt', 'hidden');
  put('web/.git/config', 'dotgit');
  fs.symlinkSync('../secret.txt', path.join(web, 'out.txt'));
  fs.symlinkSync('../webx/page.html', path.join(web, 'sib.html'));
  fs.symlinkSync('/etc/passwd', path.join(web, 'etc.txt'));
  fs.symlinkSync('..', path.join(web, 'dirlink'));
  fs.symlinkSync('../webx', path.join(web, 'webx'));
  if (AS_ROOT) chownTree(site);
}

// A response leaks if it is a 200 whose body is not a file of web/, or if
// any canary, /etc/passwd or a data-folder secret shows up anywhere in it.
function assertNoLeak(what, status, body, secrets) {
  for (const s of [...Object.values(canaries), 'root:x:0:0', ...secrets]) {
    assert.ok(!body.includes(s), `${what}: the answer contains ${s.slice(0, 40)}`);
  }
  if (status === 200) assert.ok(webFiles.has(body), `${what}: 200 with something that is not a file of web/: ${body.slice(0, 120)}`);
}

describe('static files: path traversal', () => {
  before(async () => {
    plant();
    k = await startKamer({ env: { KAMER_WEB_DIR: path.join(site, 'web') } });
    dataBase = path.basename(k.dataDir);
  });
  after(async () => {
    if (k) await k.stop();
    if (site) fs.rmSync(site, { recursive: true, force: true });
  });

  test('no request reaches a file outside web/', async () => {
    const key = fs.readFileSync(path.join(k.dataDir, 'keys', 'server.key'));
    const secrets = [key.toString('latin1'), key.toString('base64').slice(0, 40), key.toString('hex').slice(0, 40),
      fs.readFileSync(k.caPath, 'latin1').split('\n')[1]];
    // Control: the copy of web/ is what kamer serves.
    const home = await rawHttp1(k.port, 'GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.equal(home.status, 200);
    assert.equal(home.text.split('\r\n\r\n').slice(1).join('\r\n\r\n'), fs.readFileSync(path.join(site, 'web', 'index.html'), 'latin1'));

    const paths = [
      '/../../etc/passwd', '/../../../../../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/%2E%2E/%2E%2E/etc/passwd',
      '/.%2e/.%2e/etc/passwd', '/%2e./kamer.conf', '/web/../kamer.conf', '/../kamer.conf', '/..%2fkamer.conf', '/%2e%2e%2fkamer.conf',
      '/%252e%252e/%252e%252e/etc/passwd', '/%252e%252e%252fkamer.conf', '/%25252e%25252e/kamer.conf',
      '/..\\kamer.conf', '/..\\..\\etc\\passwd', '/%5c..%5ckamer.conf', '/..%5ckamer.conf', '/..%255ckamer.conf',
      '/index.html/../../kamer.conf', '/./../kamer.conf', '//etc/passwd', '/%2fetc%2fpasswd', '/j/../../kamer.conf',
      '/j/%2e%2e/%2e%2e/kamer.conf', '/j/..%2f..%2fkamer.conf', '/%c0%ae%c0%ae/kamer.conf', '/%c0%af..%c0%afkamer.conf',
      '/%e0%80%ae%e0%80%ae/kamer.conf', '/..;/kamer.conf', '/kamer.conf%00.html', '/index.html%00/../../kamer.conf',
      '/out.txt', '/sib.html', '/sib', '/etc.txt', '/dirlink/secret.txt', '/dirlink/kamer.conf', '/dirlink/webx/page.html',
      '/webx/page.html', '/webx/', '/webx', '/../webx/page.html', '/../webx/page', '/.hidden.txt', '/%2ehidden.txt',
      '/.git/config', '/%2egit/config', `/../../${dataBase}/keys/server.key`, `/../../${dataBase}/certs/dev-ca.pem`,
      `/..%2f..%2f${dataBase}%2fkeys%2fserver.key`, '/api/../../kamer.conf', '/api/v1/../../../kamer.conf', '/healthz/../../kamer.conf',
    ];
    let answered = 0;
    for (const p of paths) {
      const r = await rawHttp1(k.port, `GET ${p} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, { timeout: 5000 });
      assertNoLeak(`h1 ${p}`, r.status, r.text.split('\r\n\r\n').slice(1).join('\r\n\r\n'), secrets);
      if (r.status) answered++;
      const r2 = await h2Request(k, { ':path': p }, undefined, { timeout: 5000 });
      assertNoLeak(`h2 ${p}`, r2.status, r2.body, secrets);
    }
    // Other request-target forms.
    for (const target of ['https://localhost/../kamer.conf', `https://localhost:${k.port}/%2e%2e/kamer.conf`, '../kamer.conf',
      'kamer.conf', '*', '/..', '/.']) {
      const r = await rawHttp1(k.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, { timeout: 5000 });
      assertNoLeak(`h1 target ${target}`, r.status, r.text.split('\r\n\r\n').slice(1).join('\r\n\r\n'), secrets);
    }
    console.log(`${paths.length} traversal paths over HTTP/1.1 and HTTP/2 (${answered} answered over HTTP/1.1, the rest closed), none left web/`);
    assert.ok(answered > paths.length / 2, 'kamer answered most of them (the test reached the file server)');
    assert.equal(k.exited(), null, 'kamer is still running');
    const after = await rawHttp1(k.port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.equal(after.status, 200);
  });
});

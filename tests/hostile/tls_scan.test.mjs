// tls_scan.test.mjs — kamer's TLS as outside scanners see it: testssl.sh
// (Debian package testssl.sh, command `testssl`) and nmap's ssl-enum-ciphers
// against kamer on 127.0.0.1. Asserted: only TLS 1.2 and 1.3; only AEAD
// suites with (EC)DHE key exchange (no CBC, no static RSA); no finding at
// MEDIUM or above except the listed ones about the development CA; HSTS of
// at least 180 days; nmap's least strength A. The findings are summarised
// in the output. A missing tool skips its test with a loud message.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startKamer } from '../integration/lib/kamer.mjs';
import { loud, runBounded, which } from './lib/tools.mjs';

const TESTSSL = which('testssl');
const NMAP = which('nmap');

// The only findings at MEDIUM or above that may appear, and why. kamer's
// development certificate comes from its own development CA (given to
// testssl with --add-ca, so that the chain itself is checked); that CA runs
// no revocation service. A production certificate from a public CA has one.
const EXPECTED = {
  cert_revocation: 'the development CA publishes neither a CRL nor an OCSP responder',
};
const BAD = new Set(['MEDIUM', 'HIGH', 'CRITICAL', 'FATAL']);
const AEAD = /GCM|CHACHA20|CCM/;

let k, tmp;

describe('TLS as scanners see it', () => {
  before(async () => {
    k = await startKamer();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kamer-tls-scan-'));
  });
  after(async () => {
    if (k) await k.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('testssl.sh: protocols, ciphers, forward secrecy, vulnerabilities, HSTS', { skip: !TESTSSL && 'testssl is not installed', timeout: 420000 }, async () => {
    const json = path.join(tmp, 'testssl.json');
    // -p protocols, -s cipher categories, -f forward secrecy, -P server
    // order (lists every suite per protocol), -S certificate and defaults,
    // -h HTTP headers, -U vulnerabilities. No client simulation (-c) and no
    // per-cipher sweep (-e/-E): those double the time and add nothing here.
    const args = ['--quiet', '--color', '0', '--warnings', 'off', '--nodns', 'none', '--add-ca', k.caPath,
      '--jsonfile', json, '-p', '-s', '-f', '-P', '-S', '-h', '-U', `https://127.0.0.1:${k.port}/`];
    const r = await runBounded(TESTSSL, args, { timeoutMs: 360000 });
    assert.ok(!r.timedOut, `testssl did not finish within 360 s:\n${r.stdout.slice(-2000)}`);
    assert.ok(fs.existsSync(json), `testssl wrote no JSON (exit ${r.code}):\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}`);
    const findings = JSON.parse(fs.readFileSync(json, 'utf8'));
    const byId = new Map(findings.map((f) => [f.id, f]));
    const get = (id) => {
      const f = byId.get(id);
      assert.ok(f, `testssl reported no "${id}"`);
      return f;
    };

    // The summary, first, so that it is there even when an assertion fails.
    const counts = {};
    for (const f of findings) counts[f.severity] = (counts[f.severity] || 0) + 1;
    const notable = findings.filter((f) => !['OK', 'INFO', 'DEBUG'].includes(f.severity));
    console.log(`testssl ${k.port}: ${findings.length} findings in ${(r.ms / 1000).toFixed(0)} s: ` +
      Object.entries(counts).map(([s, n]) => `${s} ${n}`).join(', '));
    for (const f of notable) console.log(`  ${f.severity.padEnd(8)} ${f.id}: ${f.finding}${EXPECTED[f.id] ? `  [expected: ${EXPECTED[f.id]}]` : ''}`);

    for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) assert.match(get(id).finding, /^not offered/, `${id} must not be offered`);
    assert.match(get('TLS1_2').finding, /^offered/);
    assert.match(get('TLS1_3').finding, /^offered/);
    for (const id of ['cipherlist_NULL', 'cipherlist_aNULL', 'cipherlist_EXPORT', 'cipherlist_LOW', 'cipherlist_3DES_IDEA', 'cipherlist_AVERAGE']) {
      assert.match(get(id).finding, /^not offered/, `${id} (AVERAGE = obsolete CBC suites) must not be offered`);
    }
    const fs_ = byId.get('FS') || get('PFS'); // testssl 3.1 calls it FS, 3.0 PFS
    assert.match(fs_.finding, /^offered/, 'forward secrecy offered');

    // Every suite the server accepts, per protocol (from -P): AEAD only, and
    // for TLS 1.2 an ephemeral key exchange (TLS 1.3 suites always have one).
    const orders = findings.filter((f) => /^cipherorder_TLSv1[._][23]$/.test(f.id));
    assert.ok(orders.length >= 1, 'testssl listed the server cipher order');
    const suites = [];
    for (const o of orders) {
      for (const s of o.finding.trim().split(/\s+/)) {
        suites.push(s);
        assert.match(s, AEAD, `${o.id}: ${s} is not an AEAD suite`);
        assert.doesNotMatch(s, /CBC|-SHA$|RC4|3DES|NULL/, `${o.id}: ${s}`);
        if (/1[._]2$/.test(o.id)) assert.match(s, /^(ECDHE|DHE)-/, `${o.id}: ${s} has no forward secrecy`);
      }
    }
    console.log(`  suites offered: ${suites.join(' ')}`);
    assert.match(get('ROBOT').finding, /not vulnerable/);

    const hsts = get('HSTS_time');
    const secs = Number((hsts.finding.match(/=(\d+) seconds/) || [])[1]);
    assert.ok(secs >= 15552000, `HSTS max-age ${secs} (at least 180 days): ${hsts.finding}`);

    const unexpected = findings.filter((f) => BAD.has(f.severity) && !EXPECTED[f.id]);
    assert.deepEqual(unexpected.map((f) => `${f.severity} ${f.id}: ${f.finding}`), [], 'no finding at MEDIUM or above');
    // The exceptions must stay exactly what they say (a different reason is a new finding).
    for (const f of findings.filter((x) => EXPECTED[x.id] && BAD.has(x.severity))) {
      assert.match(f.finding, /CRL|OCSP/, `${f.id}: ${f.finding}`);
    }
  });

  test('nmap ssl-enum-ciphers: least strength A', { skip: !NMAP && 'nmap is not installed', timeout: 150000 }, async () => {
    const r = await runBounded(NMAP, ['-Pn', '-n', '-p', String(k.port), '--script', 'ssl-enum-ciphers', '127.0.0.1'], { timeoutMs: 120000 });
    assert.ok(!r.timedOut, 'nmap finished within 120 s');
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    const least = (out.match(/least strength: (\S+)/) || [])[1];
    const protocols = [...out.matchAll(/^\|\s+(SSLv\d|TLSv1\.\d):\s*$/gm)].map((m) => m[1]);
    const suites = [...out.matchAll(/^\|\s+(TLS_\S+) \(([^)]*)\) - (\S+)/gm)].map((m) => ({ name: m[1], kex: m[2], grade: m[3] }));
    console.log(`nmap ${k.port}: protocols ${protocols.join(', ')}; least strength ${least}; ${suites.length} suites: ` +
      suites.map((s) => `${s.name} (${s.kex}) ${s.grade}`).join(', '));
    assert.equal(least, 'A', out);
    assert.deepEqual(protocols.filter((p) => p !== 'TLSv1.2' && p !== 'TLSv1.3'), [], 'only TLS 1.2 and 1.3');
    assert.ok(suites.length > 0, out);
    for (const s of suites) {
      assert.equal(s.grade, 'A', s.name);
      assert.match(s.name, AEAD, `${s.name} is AEAD`);
      assert.match(s.name, /^TLS_(ECDHE|DHE|AKE)_/, `${s.name} has an ephemeral key exchange`);
    }
  });
});

if (!TESTSSL || !NMAP) {
  loud([`TLS scan NOT RUN: ${[!TESTSSL && 'testssl', !NMAP && 'nmap'].filter(Boolean).join(' and ')} missing.`,
    'Install the Debian packages: apt-get install testssl.sh nmap', 'A skipped scan proves nothing about kamer\'s TLS.']);
}

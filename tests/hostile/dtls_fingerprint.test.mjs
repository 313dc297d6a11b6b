// dtls_fingerprint.test.mjs — issue #9: 100 DTLS handshakes whose client
// certificate is not the one whose fingerprint the peer put in its SDP
// (kamer-peer --wrong-fingerprint: its offer carries the fingerprint of a
// decoy certificate). Asserted for every one: the peer's handshake is
// refused (exit 2; never connected, no SRTP profile, so no SRTP keys; kamer's
// DTLS alert or its media.state reached the peer), kamer reports the publish
// connection failed because the fingerprint does not match (media.state to
// the peer, and its conn_state log line), and kamer never logs that
// connection as connected. Afterwards kamer is still up, holds no
// media connection, and a legitimate call in the same run works: both
// peers connect with SRTP_AEAD_AES_256_GCM and decode each other's video.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startKamer } from '../integration/lib/kamer.mjs';
import { COOKIE } from '../integration/lib/client.mjs';
import { wsConnect } from '../integration/lib/ws.mjs';
import { admitter, clinician, consult, mediaLog, peer, received, tokenFor } from '../integration/lib/media.mjs';

const HANDSHAKES = 100;
const PARALLEL = 8;
const INVITEES = 8; // the most one consult may have
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let k, doc;
const watchers = [];

// A consult of n patients watched by a staff connection that admits them;
// returns their emails.
async function watchedConsult(tag, n) {
  const emails = Array.from({ length: n }, (_, i) => `${tag}${i}@fp.example`);
  const id = await consult(doc, emails);
  const ws = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
  assert.equal((await ws.request({ type: 'watch', consult: id }, 'room')).type, 'room');
  watchers.push({ ws, stop: admitter(ws) });
  return emails;
}

// Runs jobs (functions returning promises) PARALLEL at a time; resolves with their results in order.
async function pool(jobs, parallel) {
  const out = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  }));
  return out;
}

// Runs kamer-peer; its report is read from --report (media.mjs's peer()
// parses stdout at 'exit', which can come before all of stdout was read).
async function peerRun(args) {
  const file = path.join(reports, `r${nrun++}.json`);
  const x = await peer(k, [...args, '--report', file]);
  if (!x.report && fs.existsSync(file)) x.report = JSON.parse(fs.readFileSync(file, 'utf8'));
  return x;
}
let reports, nrun = 0;

// kamer's conn_state log lines: [{member, conn, state, detail}].
const connStates = (log) => [...log.matchAll(/event=conn_state member=(\d+) conn=(\w+) state=(\w+) detail="([^"]*)"/g)]
  .map((m) => ({ member: m[1], conn: m[2], state: m[3], detail: m[4] }));

async function mediaStats() {
  return (await k.req('GET', '/api/v1/test/media')).json;
}

describe('DTLS with a certificate that does not match the SDP fingerprint (issue #9)', { timeout: 150000 }, () => {
  before(async () => {
    reports = fs.mkdtempSync(path.join(os.tmpdir(), 'kamer-fp-'));
    k = await startKamer();
    doc = await clinician(k, 'Praktijk FP', 'dr@fp.example');
  });
  after(async () => {
    for (const w of watchers) { w.stop(); w.ws.close(); }
    if (k) await k.stop();
    if (reports) fs.rmSync(reports, { recursive: true, force: true });
  });

  test(`${HANDSHAKES} wrong-fingerprint handshakes are refused; kamer stays up; a real call still works`, async () => {
    const t0 = Date.now();
    const emails = [];
    for (let c = 0; emails.length < HANDSHAKES; c++) {
      emails.push(...await watchedConsult(`p${c}-`, Math.min(INVITEES, HANDSHAKES - emails.length)));
    }
    const jobs = emails.map((email, i) => () => peerRun(['--token', tokenFor(k, email), '--name', `W${i}`,
      '--publish', 'audio,video', '--wrong-fingerprint', '--timeout', '20']));
    const runs = await pool(jobs, PARALLEL);
    const tBatch = Date.now();

    // the peer's side: never connected, no SRTP profile (so no keys), and
    // refused: kamer's alert reached the probe, or kamer's media.state said
    // failed before it (the probe then never finished its handshake)
    let alerted = 0, kamerSaid = 0;
    runs.forEach((x, i) => {
      const who = `handshake ${i}`;
      assert.ok(x.report, `${who}: a JSON report (stderr: ${x.err.slice(-600)})`);
      const why = `${JSON.stringify(x.report.errors)}; stderr: ${x.err.slice(-400)}`;
      assert.equal(x.code, 2, `${who}: refused, exit 2 (${why})`);
      const c = x.report.conns.pub;
      assert.equal(c.probe, true, `${who}: a handshake probe ran`);
      assert.ok(['refused', 'pending'].includes(c.result), `${who}: the handshake did not complete: ${c.result} (${why})`);
      assert.ok(['refused', 'none'].includes(x.report.srtp.pub), `${who}: no SRTP profile, so no SRTP keys (${x.report.srtp.pub})`);
      if (c.result === 'refused') {
        assert.match(c.reason, /alert/, `${who}: refused by a DTLS alert from kamer`);
        alerted++;
      }
      const s = x.report.server.pub;
      assert.ok(s || c.result === 'refused', `${who}: refused by an alert or by kamer's word (${why})`);
      if (s) { // kamer's media.state, when it reached the peer before it left
        assert.equal(s.state, 'failed', `${who}: kamer says the connection failed`);
        assert.match(s.reason, /fingerprint does not match/, `${who}: kamer names the fingerprint`);
        assert.equal(s.srtp, '', `${who}: kamer reports no SRTP profile`);
        kamerSaid++;
      }
    });

    // kamer's own account: every handshake logged failed for the fingerprint, none connected
    let states = [];
    for (let i = 0; i < 50; i++) {
      states = connStates(k.log()).filter((s) => s.conn === 'pub');
      if (states.filter((s) => s.state === 'failed').length >= HANDSHAKES) break;
      await sleep(100);
    }
    const failed = states.filter((s) => s.state === 'failed');
    assert.equal(states.filter((s) => s.state === 'connected').length, 0, 'kamer connected none of them');
    assert.equal(failed.length, HANDSHAKES, `kamer logged ${failed.length} failed publish connections`);
    assert.equal(new Set(failed.map((s) => s.member)).size, HANDSHAKES, 'one failed connection per handshake');
    for (const s of failed) assert.match(s.detail, /^dtls: peer certificate fingerprint does not match the SDP$/, `member ${s.member}`);

    // kamer is up and holds no media connection for the refused peers
    assert.equal(k.exited(), null, 'kamer is still running');
    assert.equal((await k.req('GET', '/healthz')).status, 200, 'kamer answers');
    let st;
    for (let i = 0; i < 50; i++) {
      st = await mediaStats();
      if (st.connections === 0 && st.worker_connections === 0) break;
      await sleep(100);
    }
    assert.equal(st.connections, 0, `no connection left: ${JSON.stringify(st)}`);
    assert.equal(st.worker_connections, 0, `no worker connection left: ${JSON.stringify(st)}`);

    // a legitimate call in the same run still works
    const [a, b] = await watchedConsult('ok-', 2);
    const media = ['--publish', 'audio,video', '--subscribe', '--seconds', '4', '--timeout', '40'];
    const call = await Promise.all([
      peerRun(['--token', tokenFor(k, a), '--name', 'A', ...media]),
      peerRun(['--token', tokenFor(k, b), '--name', 'B', ...media]),
    ]);
    for (const [n, x] of Object.entries({ A: call[0], B: call[1] })) {
      assert.ok(x.report, `${n}: a JSON report (stderr: ${x.err.slice(-600)})`);
      assert.equal(x.code, 0, `${n}: exit 0 (${JSON.stringify(x.report.errors)})\nkamer:\n${mediaLog(k)}`);
      for (const leg of ['pub', 'sub']) {
        assert.equal(x.report.srtp[leg], 'SRTP_AEAD_AES_256_GCM', `${n} ${leg}: AES-256-GCM`);
        assert.equal(x.report.server[leg].srtp, 'SRTP_AEAD_AES_256_GCM', `${n} ${leg}: kamer says AES-256-GCM`);
      }
      const v = received(x.report).filter((r) => r.kind === 'video');
      assert.equal(v.length, 1, `${n} receives the other's video`);
      assert.ok(v[0].frames_decoded >= 60, `${n}: ${v[0].frames_decoded} frames decoded`);
      assert.equal(v[0].frames_corrupt, 0, `${n}: no corrupt frame`);
    }
    assert.equal(connStates(k.log()).filter((s) => s.state === 'connected').length, 4, 'kamer connected the call\'s four connections');
    assert.equal(k.exited(), null, 'kamer is still running');
    console.log(`# dtls fingerprint: ${HANDSHAKES}/${HANDSHAKES} handshakes refused (${PARALLEL} at a time, ${((tBatch - t0) / 1000).toFixed(1)} s): `
      + `kamer's alert reached ${alerted} probes, its media.state 'failed: fingerprint' ${kamerSaid} peers; ${failed.length} failed in kamer's log, 0 connected; `
      + `then a call of two peers: ${call.map((x) => received(x.report).find((r) => r.kind === 'video').frames_decoded).join(' + ')} video frames decoded`);
  });
});

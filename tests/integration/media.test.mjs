// media.test.mjs — the SFU end to end with kamer's own C test peer
// (build/<mode>/kamer-peer): patients admitted through the real consult flow
// publish Opus and VP8 and subscribe; each decodes the others for 10 s with
// no corrupt frame over SRTP_AEAD_AES_256_GCM on every leg (asserted from
// both ends); a third joins and everyone renegotiates and receives it; 5 %
// loss at a receiver is repaired by NACKs that kamer answers, with no freeze
// over 500 ms; a patient in another consult receives nothing; a peer that
// offers only an HMAC-SHA1 SRTP profile is refused; when everyone has gone
// the media workers hold nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startKamer } from './lib/kamer.mjs';
import { COOKIE } from './lib/client.mjs';
import { wsConnect } from './lib/ws.mjs';
import { admitter, clinician, consult as makeConsult, mediaLog, peer as runPeer, received as streams, tokenFor as token } from './lib/media.mjs';

let k, doc, staff;
const consult = (emails) => makeConsult(doc, emails);
const tokenFor = (email) => token(k, email);
const peer = (args, opts) => runPeer(k, args, opts);

describe('media through the SFU', { timeout: 240000 }, () => {
  before(async () => {
    k = await startKamer();
    doc = await clinician(k, 'Praktijk M', 'dr@m.example');
  });
  after(async () => { if (k) await k.stop(); });

  test('three patients and a neighbour: decoding, renegotiation, loss repair, isolation, teardown', async () => {
    const id = await consult(['a@m.example', 'b@m.example', 'c@m.example']);
    const other = await consult(['d@m.example', 'e@m.example']);
    staff = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    assert.equal((await staff.request({ type: 'watch', consult: id }, 'room')).type, 'room');
    const staff2 = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    assert.equal((await staff2.request({ type: 'watch', consult: other }, 'room')).type, 'room');
    const stop = [admitter(staff), admitter(staff2)];
    const media = ['--publish', 'audio,video', '--subscribe'];
    const [a, b, c, d] = await Promise.all([
      peer(['--token', tokenFor('a@m.example'), '--name', 'A', ...media, '--seconds', '16', '--loss', '5']),
      peer(['--token', tokenFor('b@m.example'), '--name', 'B', ...media, '--seconds', '16']),
      peer(['--token', tokenFor('c@m.example'), '--name', 'C', ...media, '--seconds', '8'], { delayMs: 5000 }),
      // alone in the other consult: publishes, subscribes, and must receive nothing
      peer(['--token', tokenFor('d@m.example'), '--name', 'D', ...media, '--seconds', '12', '--timeout', '18']),
    ]);
    const all = { a, b, c };
    const keep = fs.mkdtempSync(path.join(path.dirname(k.dataDir), 'peer-reports-'));
    for (const [n, x] of Object.entries({ a, b, c, d })) fs.writeFileSync(path.join(keep, `${n}.json`), `${JSON.stringify(x.report, null, 1)}\n${x.err}`);
    console.log(`# peer reports: ${keep}`);
    for (const [n, x] of Object.entries(all)) {
      assert.ok(x.report, `${n}: a JSON report (stderr: ${x.err.slice(-800)})`);
      assert.equal(x.code, 0, `${n}: exit 0 (${JSON.stringify(x.report.errors)})\nkamer:\n${mediaLog(k)}`);
      for (const leg of ['pub', 'sub']) {
        assert.equal(x.report.srtp[leg], 'SRTP_AEAD_AES_256_GCM', `${n} ${leg}: the peer's DTLS negotiated AES-256-GCM`);
        assert.equal(x.report.server[leg].srtp, 'SRTP_AEAD_AES_256_GCM', `${n} ${leg}: kamer reports AES-256-GCM`);
      }
    }
    // who each one received, by participant id (from kamer's offers)
    const seen = (x) => new Set(streams(x.report).map((r) => x.report.streams[r.stream]?.participant));
    const [sa, sb, sc] = [seen(a), seen(b), seen(c)];
    for (const [n, s] of Object.entries({ a: sa, b: sb, c: sc })) assert.equal(s.size, 2, `${n} receives exactly two others: ${[...s]}`);
    const pC = [...sa].filter((p) => sb.has(p)), pB = [...sa].filter((p) => sc.has(p)), pA = [...sb].filter((p) => sc.has(p));
    assert.equal(new Set([...pA, ...pB, ...pC]).size, 3, 'a, b and c each receive the other two');
    for (const [n, x] of Object.entries(all)) {
      const min = n === 'c' ? 150 : 250; // c runs 8 s, a and b overlap for 16 s
      for (const r of streams(x.report)) {
        const who = `${n} <- ${r.stream} ${r.kind}`;
        assert.equal(r.frames_corrupt, 0, `${who}: no corrupt frame`);
        if (r.kind === 'video') {
          if (x.report.streams[r.stream].participant !== pC[0] || n === 'c') assert.ok(r.frames_decoded >= min, `${who}: ${r.frames_decoded} frames decoded`);
          else assert.ok(r.frames_decoded >= 150, `${who}: ${r.frames_decoded} frames decoded`);
          assert.equal(r.width, 320, `${who}: frame size`);
          // a drops 5 % before SRTP: a resent packet can be lost again and
          // need a second NACK round, so its bound is wider.
          const freezeMax = n === 'a' ? 1000 : 500;
          assert.ok(r.max_freeze_ms <= freezeMax, `${who}: longest freeze ${r.max_freeze_ms} ms`);
        } else {
          assert.ok(r.audio_level > 0.1, `${who}: audio level ${r.audio_level}`);
          assert.ok(r.frames_decoded >= (n === 'c' || x.report.streams[r.stream].participant === pC[0] ? 250 : 500), `${who}: ${r.frames_decoded} audio frames`);
        }
      }
    }
    // 5 % of what a received was lost before SRTP; kamer answered its NACKs
    // (a loss in the last moments before the peer stops cannot be repaired)
    const av = streams(a.report).filter((r) => r.kind === 'video');
    assert.ok(av.every((r) => r.dropped_by_loss > 0 && r.nacks_sent > 0 && r.lost <= 2),
      `a's video losses were repaired: ${JSON.stringify(av.map((r) => [r.dropped_by_loss, r.nacks_sent, r.lost]))}`);
    // the other consult's patient received nothing of this one
    assert.ok(d.report, `d: a JSON report (${d.err.slice(-400)})`);
    assert.deepEqual(streams(d.report), [], 'd receives no media from another consult');
    assert.equal(d.report.srtp.pub, 'SRTP_AEAD_AES_256_GCM', 'd still published');

    // an HMAC-SHA1-only peer is refused, with the reason on its page
    const e = await peer(['--token', tokenFor('e@m.example'), '--name', 'E', '--publish', 'audio,video', '--srtp-profiles', 'hmac', '--timeout', '15']);
    assert.equal(e.code, 2, `e: refused (exit 2): ${e.err.slice(-400)}`);
    assert.match(JSON.stringify(e.report), /SRTP profile/i, 'e: the reason names the SRTP profile');
    stop.forEach((f) => f());

    // everyone has gone: the workers hold nothing
    let st;
    for (let i = 0; i < 50; i++) {
      st = (await doc.get('/api/v1/test/media')).json;
      if (st.worker_connections === 0 && st.members === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(st, { rooms: 0, members: 0, connections: 0, worker_rooms: 0, worker_connections: 0 }, 'nothing left');
    staff.close();
    staff2.close();
  });
  test('bad media messages get clear errors; nothing before admission', async () => {
    const id = await consult(['f@m.example']);
    const st = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    assert.equal((await st.request({ type: 'watch', consult: id }, 'room')).type, 'room');
    const ws = await wsConnect(k);
    const j = await ws.request({ type: 'join', token: tokenFor('f@m.example') }, 'joined');
    let m = await ws.request({ type: 'media.publish', sdp: 'v=0' }, 'never');
    assert.deepEqual([m.type, m.code], ['error', 'out_of_order'], 'no media before consent');
    await ws.request({ type: 'consent', accept: true, version: j.consent.version }, 'state');
    await ws.request({ type: 'name', display_name: 'F' }, 'state');
    m = await ws.request({ type: 'media.subscribe' }, 'never');
    assert.deepEqual([m.type, m.code], ['error', 'out_of_order'], 'no subscription while waiting');
    const waiting = (await st.waitFor((x) => x.type === 'participants' && x.participants.some((p) => p.state === 'waiting'))).participants.find((p) => p.state === 'waiting');
    st.sendJson({ type: 'admit', participant: waiting.id });
    await ws.waitFor((x) => x.type === 'state' && x.state === 'admitted');
    const good = fs.readFileSync('tests/fuzz/corpus/negotiate/chrome-offer-vp8', 'utf8');
    const cases = [
      ['v=0\r\n', /./],
      [good.replace(/a=fingerprint:[^\r\n]*\r\n/g, ''), /fingerprint/],
      [good.replace(/a=rtpmap:96 VP8\/90000/, 'a=rtpmap:96 VP9/90000'), /VP8/],
      [good.replace(/a=rtcp-mux\r\n/g, ''), /rtcp-mux/],
      ['x'.repeat(60000), /./],
    ];
    for (const [sdp, why] of cases) {
      m = await ws.request({ type: 'media.publish', sdp }, 'media.answer');
      assert.deepEqual([m.type, m.code], ['error', 'sdp_invalid'], JSON.stringify(m));
      assert.match(m.message, why);
    }
    m = await ws.request({ type: 'media.answer', conn: 'sub', version: 7, sdp: good }, 'never');
    assert.deepEqual([m.type, m.code], ['error', 'out_of_order'], 'an answer to no offer');
    m = await ws.request({ type: 'media.candidate', conn: 'nope', candidate: '' }, 'never');
    assert.deepEqual([m.type, m.code], ['error', 'invalid_field']);
    m = await ws.request({ type: 'media.publish', sdp: good }, 'media.answer');
    assert.equal(m.type, 'media.answer', 'a good offer is still answered');
    assert.match(m.sdp, /a=setup:passive/);
    ws.close();
    st.close();
  });
  test('an answer that crosses the close of its sub connection is a race (offer_replaced), not out_of_order', async () => {
    const id = await consult(['g@m.example']);
    const good = fs.readFileSync('tests/fuzz/corpus/negotiate/chrome-offer-vp8', 'utf8');
    const x = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    const y = await wsConnect(k, { cookie: `${COOKIE}=${doc.cookie}` });
    for (const w of [x, y]) assert.equal((await w.request({ type: 'watch', consult: id }, 'room')).type, 'room');
    assert.equal((await x.request({ type: 'media.publish', sdp: good }, 'media.answer')).type, 'media.answer', 'x publishes');
    let offer = await y.request({ type: 'media.subscribe' }, 'media.offer');
    assert.deepEqual([offer.type, offer.conn, offer.version], ['media.offer', 'sub', 1], 'y is offered x\'s tracks');
    let m = await y.request({ type: 'media.answer', conn: 'sub', version: 5, sdp: 'v=0\r\n' }, 'never');
    assert.deepEqual([m.type, m.code], ['error', 'out_of_order'], 'an answer to a version never offered');
    // the client hangs up while its answer is on the way
    y.sendJson({ type: 'media.close', conn: 'sub' });
    m = await y.request({ type: 'media.answer', conn: 'sub', version: 1, sdp: 'v=0\r\n' }, 'never');
    assert.deepEqual([m.type, m.code], ['error', 'offer_replaced'], `a late answer to the closed connection's offer: ${JSON.stringify(m)}`);
    assert.match(m.message, /version 1 was withdrawn: its connection has closed/);
    m = await y.request({ type: 'media.answer', conn: 'sub', version: 2, sdp: 'v=0\r\n' }, 'never');
    assert.deepEqual([m.type, m.code], ['error', 'out_of_order'], 'a version after the closed one was never offered');
    // subscribing again starts over: the new offer is outstanding, not withdrawn
    offer = await y.request({ type: 'media.subscribe' }, 'media.offer');
    assert.deepEqual([offer.type, offer.version], ['media.offer', 1], 'a new offer, counted from 1 again');
    m = await y.request({ type: 'media.answer', conn: 'sub', version: 1, sdp: 'v=0\r\n' }, 'never');
    assert.deepEqual([m.type, m.code], ['error', 'sdp_invalid'], `the new offer's answer is read (and this one refused): ${JSON.stringify(m)}`);
    x.close();
    y.close();
  });
});

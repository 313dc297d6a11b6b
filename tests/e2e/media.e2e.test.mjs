// media.e2e.test.mjs — a video consult through kamer's SFU in two Chromium
// contexts with fake cameras and microphones: the clinician opens the room
// (the call starts by itself); the patient (in Dutch, on a phone-sized
// screen) opens the emailed link, consents, gives a name, runs the device
// check (preview, level meter, device lists, the echo test through kamer)
// in the waiting room; the clinician admits. Then, in both pages, from getStats of the
// subscribe connection: remote video frames decode and keep coming, remote
// audio samples arrive and carry sound, and the transport is DTLS with SRTP
// AEAD_AES_256_GCM. Muting the microphone silences the other side;
// leaving and rejoining the call renegotiates. And the messages for a
// blocked camera and microphone and for a browser without WebRTC: the first
// still receives the others. Screenshots in artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runCli, startKamer } from '../integration/lib/kamer.mjs';
import { ARTIFACTS, launch, shot } from './lib/browser.mjs';
import { T, linkFor, patientToName, planAndOpen, signInClinician } from './lib/consult_flow.mjs';

const ORG = 'Praktijk Media';
const cat = { en: JSON.parse(fs.readFileSync('web/i18n/en.json', 'utf8')), nl: JSON.parse(fs.readFileSync('web/i18n/nl.json', 'utf8')) };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let k, b;

// The stats summary (web/media.js summarize) of connection kind in page.
const stats = (page, kind) => page.evaluate((c) => window.kamerMedia.stats(c), kind);
const inbound = (s, kind) => (s ? s.inbound.filter((i) => i.kind === kind) : []);

// Polls the summary of kind until pred(summary) holds; bounded.
async function statsUntil(page, kind, pred, what, ms = T) {
  const end = Date.now() + ms;
  let last = null;
  while (Date.now() < end) {
    last = await stats(page, kind);
    if (last && pred(last)) return last;
    await sleep(250);
  }
  assert.fail(`${what}: not within ${ms} ms; last stats: ${JSON.stringify(last)}`);
}

// The largest audioLevel of inbound audio over ms of samples.
async function maxAudioLevel(page, ms) {
  let max = 0;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
    for (const a of inbound(await stats(page, 'sub'), 'audio')) max = Math.max(max, a.audioLevel || 0);
  }
  return max;
}

// Media really flows into page from the other side: frames decode and keep
// coming, audio samples arrive with sound, SRTP is AES-256-GCM.
async function assertReceiving(page, who) {
  await statsUntil(page, 'sub', (s) => inbound(s, 'video').some((v) => v.framesDecoded > 0)
    && inbound(s, 'audio').some((a) => a.totalSamplesReceived > 0), `${who}: first remote video frame and audio`);
  const s1 = await stats(page, 'sub');
  await sleep(2000);
  const s2 = await stats(page, 'sub');
  const [v1, v2] = [inbound(s1, 'video')[0], inbound(s2, 'video')[0]];
  const [a1, a2] = [inbound(s1, 'audio')[0], inbound(s2, 'audio')[0]];
  assert.ok(v2.framesDecoded > v1.framesDecoded, `${who}: video frames keep decoding (${v1.framesDecoded} -> ${v2.framesDecoded})`);
  assert.ok(v2.frameWidth > 0 && v2.frameHeight > 0, `${who}: frame size ${v2.frameWidth}x${v2.frameHeight}`);
  console.log(`${who}: receives ${v2.frameWidth}x${v2.frameHeight} video (simulcast layer kamer chose)`);
  assert.equal(v2.codec, 'video/VP8', `${who}: the video codec`);
  assert.ok(a2.totalSamplesReceived > a1.totalSamplesReceived, `${who}: audio samples keep coming`);
  assert.equal(a2.codec, 'audio/opus', `${who}: the audio codec`);
  const level = await maxAudioLevel(page, 2500);
  assert.ok(level > 0, `${who}: the remote audio carries sound (max audioLevel ${level})`);
  for (const kind of ['sub', 'pub']) {
    const s = await stats(page, kind);
    assert.equal(s.transport.dtlsState, 'connected', `${who} ${kind}: DTLS`);
    // Chromium names the IANA profile: SRTP_AEAD_AES_256_GCM.
    assert.equal(s.transport.srtpCipher, 'SRTP_AEAD_AES_256_GCM', `${who} ${kind}: SRTP cipher`);
    assert.ok(s.transport.dtlsCipher, `${who} ${kind}: a DTLS cipher (${s.transport.dtlsCipher})`);
    assert.equal(s.remote.address, '127.0.0.1', `${who} ${kind}: kamer's media address`);
  }
  return level;
}

describe('video and sound through kamer in Chromium', () => {
  before(async () => {
    k = await startKamer();
    b = await launch();
    const r = runCli(['admin', 'org', 'create', ORG, '--data', k.dataDir]);
    assert.equal(r.status, 0, r.stderr);
  });
  after(async () => {
    if (b) await b.close();
    if (k) await k.stop();
  });

  test('device check, admit, call both ways, mute, leave and rejoin, end', async () => {
    const en = (key) => cat.en[key];
    const nl = (key) => cat.nl[key];
    const docCtx = await b.context('en-US');
    const patCtx = await b.context('nl-NL', { viewport: { width: 390, height: 844 }, hasTouch: true });
    const doc = await docCtx.newPage();
    const pat = await patCtx.newPage();
    const errors = [];
    for (const [who, p] of [['clinician', doc], ['patient', pat]])
      p.on('console', (m) => { if (m.type() === 'error') errors.push(`${who}: ${m.text()}`); });
    const step = async (n, name) => {
      await shot(doc, `media-${n}-clinician-${name}`);
      await shot(pat, `media-${n}-patient-${name}`);
    };
    try {
      // The clinician plans a consult and opens the room: the call starts
      // by itself (own video, publish connected).
      await signInClinician(k, doc, ORG, 'dokter.media@praktijk.example');
      await planAndOpen(doc, 'Videospreekuur', 'patient.media@mail.example');
      await doc.waitForSelector('#self:visible', { timeout: T });
      await doc.waitForSelector('#call-leave:visible', { timeout: T });
      await doc.waitForFunction((text) => document.querySelector('#call-status').textContent === text,
        en('call.connected').replace('{cipher}', 'AES-256-GCM'), { timeout: T });
      assert.equal(await doc.isVisible('#remote-empty'), true);
      await shot(doc, 'media-1-clinician-alone');

      // The patient: link, consent, name, then the device check.
      await patientToName(pat, linkFor(k, 'patient.media@mail.example'), 'Anna de Vries');
      await pat.waitForSelector('#s-waiting:visible', { timeout: T });
      await pat.waitForSelector('#check:visible', { timeout: T });
      await pat.waitForFunction(() => {
        const v = document.querySelector('#check-video');
        return v.srcObject && v.srcObject.getVideoTracks().length === 1 && v.videoWidth > 0;
      }, null, { timeout: T });
      assert.ok(await pat.locator('#check-cam option').count() >= 1, 'a camera to choose');
      assert.ok(await pat.locator('#check-mic option').count() >= 1, 'a microphone to choose');
      // The fake microphone beeps: the level meter moves.
      await pat.waitForFunction(() => document.querySelector('#check-level').value > 0.1, null, { timeout: T, polling: 50 });
      await shot(pat, 'media-2-patient-check');

      // The echo test: own media to kamer and back.
      await pat.click('#check-echo');
      let echo = null;
      for (const end = Date.now() + T; Date.now() < end && (await pat.textContent('#check-echo-status')) === nl('check.testing');) {
        echo = (await stats(pat, 'echo')) || echo;
        await sleep(250);
      }
      assert.equal(await pat.textContent('#check-echo-status'), nl('check.ok'), `the echo test; last echo stats: ${JSON.stringify(echo)}`);
      echo = await stats(pat, 'echo');
      assert.ok(inbound(echo, 'video').some((v) => v.framesDecoded > 0), `echo video decodes: ${JSON.stringify(echo.inbound)}`);
      assert.ok(inbound(echo, 'audio').some((a) => a.packetsReceived > 0), 'echo audio comes back');
      assert.equal(echo.transport.srtpCipher, 'SRTP_AEAD_AES_256_GCM');
      await shot(pat, 'media-3-patient-echo-ok');

      // Done: the check closes, and the echo connection with it.
      await pat.click('#check-done');
      await pat.waitForSelector('#check', { state: 'hidden', timeout: T });
      await pat.waitForSelector('#waiting-check:visible', { timeout: T });
      assert.equal(await stats(pat, 'echo'), null);
      await doc.waitForSelector('#waiting li:has-text("Anna de Vries")', { timeout: T });
      await step(4, 'waiting');

      // Admitted: the patient's call starts by itself.
      await doc.click(`#waiting button:has-text("${en('room.admit')}")`);
      await pat.waitForSelector('#s-admitted:visible', { timeout: T });
      assert.equal(await pat.textContent('#announce'), nl('join.admitted_live'));
      await pat.waitForSelector('#remote-tiles li', { timeout: T });
      await doc.waitForSelector('#remote-tiles li', { timeout: T });
      assert.match(await pat.textContent('#remote-tiles li .tile-caption strong'), new RegExp(nl('chat.clinician')));
      assert.equal(await doc.textContent('#remote-tiles li .tile-caption strong'), 'Anna de Vries (Patient)');

      // Media in both directions, checked in both pages.
      const docLevel = await assertReceiving(doc, 'clinician');
      await assertReceiving(pat, 'patient');
      // The quality line shows numbers.
      await doc.waitForFunction(() => /kbit\/s/.test(document.querySelector('#remote-tiles .quality').textContent), null, { timeout: T });
      await pat.waitForFunction(() => /kbit\/s/.test(document.querySelector('#remote-tiles .quality').textContent), null, { timeout: T });
      await step(5, 'in-call');

      // An ICE restart of the patient's publish connection (what the page
      // does when the connection stays disconnected): new ICE credentials on
      // the same peer connection, kamer restarts its side, DTLS and SRTP
      // carry on, and the clinician keeps receiving.
      const ufragOf = () => pat.evaluate(() => window.kamerMedia.recs.pub.pc.localDescription.sdp.match(/a=ice-ufrag:(\S+)/)[1]);
      const ufrag0 = await ufragOf();
      const logBefore = k.log().length;
      assert.equal(await pat.evaluate(() => window.kamerMedia.restartIce('pub')), true);
      await pat.waitForFunction(() => window.kamerMedia.recs.pub.pc.remoteDescription &&
        window.kamerMedia.recs.pub.pc.signalingState === 'stable', null, { timeout: T });
      assert.notEqual(await ufragOf(), ufrag0, 'new local ICE credentials');
      await pat.waitForFunction(() => window.kamerMedia.recs.pub.pc.connectionState === 'connected', null, { timeout: T });
      await sleep(1500);
      await assertReceiving(doc, 'clinician after the ICE restart');
      const after = k.log().slice(logBefore);
      assert.match(after, /sub=ice event=restart/, 'kamer restarted its ICE');
      assert.doesNotMatch(after, /event=conn_state[^\n]*conn=pub[^\n]*state=(dtls|connected|failed)/, "no new connection, no new DTLS handshake");

      // The patient mutes: the clinician hears silence; unmuted, sound again.
      await pat.click('#call-mic');
      assert.equal(await pat.textContent('#call-mic'), nl('call.mic_on'));
      assert.equal(await pat.textContent('#call-status'), nl('call.mic_is_off'));
      // (a loaded machine delays it: up to 6 windows of 1.5 s until it is quiet)
      let muted = Infinity;
      for (let i = 0; i < 6 && !(muted < docLevel / 10); i++) muted = await maxAudioLevel(doc, 1500);
      assert.ok(muted < docLevel / 10, `muted: max audioLevel ${muted} (was ${docLevel})`);
      await pat.click('#call-mic');
      await sleep(1000);
      assert.ok(await maxAudioLevel(doc, 2500) > muted, 'sound again after unmuting');
      // Camera off and on again (the button and the state line follow).
      await pat.click('#call-cam');
      assert.equal(await pat.textContent('#call-cam'), nl('call.cam_on'));
      await pat.click('#call-cam');
      assert.equal(await pat.textContent('#call-cam'), nl('call.cam_off'));

      // The clinician leaves the call: the patient's tile goes (a new
      // subscribe offer); back in, it comes again and media flows.
      await doc.click('#call-leave');
      await doc.waitForSelector('#call-start:visible', { timeout: T });
      assert.equal(await stats(doc, 'pub'), null);
      await pat.waitForSelector('#remote-empty:visible', { timeout: T });
      assert.equal(await pat.locator('#remote-tiles li').count(), 0);
      await step(6, 'clinician-left');
      await doc.click('#call-start');
      await pat.waitForSelector('#remote-tiles li', { timeout: T });
      await doc.waitForSelector('#remote-tiles li', { timeout: T });
      await assertReceiving(pat, 'patient after rejoin');
      await assertReceiving(doc, 'clinician after rejoin');
      await step(7, 'rejoined');

      // The clinician ends the consult: the patient's media stops with it.
      await doc.click('#end');
      await doc.waitForSelector('dialog.confirm[open]', { timeout: T });
      await doc.click('dialog.confirm button[data-answer=ok]');
      await doc.waitForSelector('#ended:visible', { timeout: T });
      await pat.waitForSelector('#s-end:visible', { timeout: T });
      assert.equal(await stats(pat, 'pub'), null);
      assert.equal(await stats(pat, 'sub'), null);
      await step(8, 'ended');
      assert.deepEqual(errors.filter((e) => !/status of 4\d\d/.test(e)), [], 'console errors');
    } catch (e) {
      await shot(doc, 'media-failure-clinician').catch(() => {});
      await shot(pat, 'media-failure-patient').catch(() => {});
      fs.writeFileSync(`${ARTIFACTS}/media-console.txt`, errors.join('\n'));
      fs.writeFileSync(`${ARTIFACTS}/media-kamer.log`, k.log());
      throw e;
    } finally {
      await docCtx.close();
      await patCtx.close();
    }
  });

  test('blocked camera and microphone; a browser without WebRTC', async () => {
    const en = (key) => cat.en[key];
    const docCtx = await b.context('en-US');
    const doc = await docCtx.newPage();
    // Two patients: one whose browser refuses camera and microphone, one
    // whose browser has no RTCPeerConnection.
    const blockedCtx = await b.context('en-US');
    await blockedCtx.addInitScript(() => {
      const md = navigator.mediaDevices;
      const allowed = md.getUserMedia.bind(md);
      md.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
      window.allowMedia = () => { md.getUserMedia = allowed; }; // the person changes the setting
    });
    const oldCtx = await b.context('en-US');
    await oldCtx.addInitScript(() => Object.defineProperty(window, 'RTCPeerConnection', { value: undefined }));
    const blocked = await blockedCtx.newPage();
    const old = await oldCtx.newPage();
    try {
      await signInClinician(k, doc, ORG, 'dokter.blocked@praktijk.example');
      await doc.waitForSelector('#new-form:visible', { timeout: T });
      await doc.fill('#new-label', 'Geblokkeerd');
      await doc.fill('#invitees input[type=email]', 'blocked@mail.example');
      await doc.click('#invitee-add');
      await doc.fill('#invitees > li:nth-child(2) input[type=email]', 'old@mail.example');
      await doc.click('#new-form button[type=submit]');
      await doc.waitForSelector('#consults td:has-text("old@mail.example")', { timeout: T });
      await doc.click('#consults a[href^="/room#"]');
      await doc.waitForSelector('#content:visible', { timeout: T });
      await doc.waitForSelector('#call-leave:visible', { timeout: T });

      await patientToName(blocked, linkFor(k, 'blocked@mail.example'), 'Bert Blocked');
      await patientToName(old, linkFor(k, 'old@mail.example'), 'Olga Old');
      await blocked.waitForSelector('#check:visible', { timeout: T });
      await blocked.waitForFunction((text) => document.querySelector('#check-error').textContent === text, en('device.blocked'), { timeout: T });
      assert.equal(await blocked.isVisible('#check-retry'), true);
      assert.equal(await blocked.isDisabled('#check-echo'), true);
      await old.waitForSelector('#check:visible', { timeout: T });
      await old.waitForFunction((text) => document.querySelector('#check-error').textContent === text, en('call.unsupported'), { timeout: T });
      await shot(blocked, 'media-10-patient-blocked-check');
      await shot(old, 'media-10-patient-no-webrtc-check');

      // Both are let in: the blocked one receives the clinician without
      // sending; the old browser is told it cannot take part by video.
      await doc.waitForSelector('#waiting li:has-text("Olga Old")', { timeout: T });
      await doc.click(`#waiting li:has-text("Bert Blocked") button:has-text("${en('room.admit')}")`);
      await doc.click(`#waiting li:has-text("Olga Old") button:has-text("${en('room.admit')}")`);
      await blocked.waitForSelector('#s-admitted:visible', { timeout: T });
      await blocked.waitForFunction((text) => document.querySelector('#call-device').textContent === text, en('device.blocked'), { timeout: T });
      await statsUntil(blocked, 'sub', (s) => inbound(s, 'video').some((v) => v.framesDecoded > 0), 'receive-only patient: video');
      assert.equal(await stats(blocked, 'pub'), null);
      assert.equal(await blocked.isVisible('#call-mic'), false);
      await old.waitForSelector('#s-admitted:visible', { timeout: T });
      await old.waitForFunction((text) => document.querySelector('#call-device').textContent === text, en('call.unsupported'), { timeout: T });
      await shot(blocked, 'media-11-patient-blocked-call');
      await shot(old, 'media-11-patient-no-webrtc-call');
      // The clinician receives nobody (neither sends), so sees no tile.
      assert.equal(await doc.locator('#remote-tiles li').count(), 0);
      // The blocked patient allows camera and microphone and tries again:
      // now they send, and the clinician sees and hears them.
      await blocked.evaluate(() => window.allowMedia());
      await blocked.click('#call-devices');
      await blocked.waitForSelector('#call-mic:visible', { timeout: T });
      assert.equal(await blocked.textContent('#call-device'), '');
      await doc.waitForSelector('#remote-tiles li:has-text("Bert Blocked")', { timeout: T });
      await statsUntil(doc, 'sub', (s) => inbound(s, 'video').some((v) => v.framesDecoded > 0)
        && inbound(s, 'audio').some((a) => a.totalSamplesReceived > 0), 'clinician receives the patient after the retry');
      await shot(blocked, 'media-12-patient-allowed');
    } catch (e) {
      for (const [n, p] of [['clinician', doc], ['blocked', blocked], ['old', old]]) await shot(p, `media-failure2-${n}`).catch(() => {});
      fs.writeFileSync(`${ARTIFACTS}/media-kamer.log`, k.log());
      throw e;
    } finally {
      await docCtx.close();
      await blockedCtx.close();
      await oldCtx.close();
    }
  });
});

// flows.e2e.test.mjs — the paths of the product around the main consult
// (consult.e2e and media.e2e), in Chromium against a real kamer:
// 1. a doctor-to-doctor consult with three people (clinician, colleague,
//    patient) in which everyone receives everyone's video and sound; the
//    clinician's home page shows the waiting patient live; the call controls
//    by keyboard with accessible names and the live regions; the test sound
//    of the device check; the patient reloads and gets back chat and media;
//    ending asks for confirmation in the page.
// 2. refused consent, refused admission, a re-sent link (the old one dies).
// 3. the admin's "active consults now" without personal data, every page in
//    Dutch and English without untranslated keys, and an expired consult.
// Screenshots in artifacts/flows-*.png; on failure the console and kamer's log.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runCli, startKamer } from '../integration/lib/kamer.mjs';
import { Client } from '../integration/lib/client.mjs';
import { ARTIFACTS, launch, shot } from './lib/browser.mjs';
import { T, linkFor, patientToName, signInClinician, signInUser } from './lib/consult_flow.mjs';
import { assertReceivingFrom, assertTranslated, cat } from './lib/media_checks.mjs';

const ORG = 'Praktijk Flows';
const en = (key) => cat.en[key];
const nl = (key) => cat.nl[key];
let k, b;

// Pages of one test, their console errors, and what to save when it fails.
function watch(name, pages) {
  const errors = [];
  for (const [who, p] of Object.entries(pages)) {
    p.on('console', (m) => { if (m.type() === 'error') errors.push(`${who}: ${m.text()}`); });
    p.on('dialog', (d) => { errors.push(`${who}: a native ${d.type()} dialog: ${d.message()}`); d.dismiss(); });
  }
  return {
    errors,
    async failed() {
      for (const [who, p] of Object.entries(pages)) await shot(p, `flows-${name}-failure-${who}`).catch(() => {});
      fs.writeFileSync(`${ARTIFACTS}/flows-${name}-console.txt`, errors.join('\n'));
      fs.writeFileSync(`${ARTIFACTS}/flows-${name}-kamer.log`, k.log());
    },
    clean() {
      assert.deepEqual(errors.filter((e) => !/status of 4\d\d/.test(e)), [], 'console errors or native dialogs');
    },
  };
}

// Plans a consult on the home page with invitees [[email, kind], ...].
async function plan(page, label, invitees) {
  await page.waitForSelector('#new-form:visible', { timeout: T });
  await page.fill('#new-label', label);
  for (let i = 0; i < invitees.length; i++) {
    if (i > 0) await page.click('#invitee-add');
    const row = `#invitees > li:nth-child(${i + 1})`;
    await page.fill(`${row} input[type=email]`, invitees[i][0]);
    await page.selectOption(`${row} select`, invitees[i][1]);
  }
  await page.click('#new-form button[type=submit]');
  for (const [email] of invitees) await page.waitForSelector(`#consults td:has-text("${email}")`, { timeout: T });
}

// The end page of a join page shows title (a catalogue string).
async function endPage(page, title) {
  await page.waitForSelector('#s-end:visible', { timeout: T });
  assert.equal(await page.textContent('#end-title'), title);
}

describe('the paths around a consult in Chromium', () => {
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

  test('three people: everyone receives everyone; home live; keyboard; test sound; reload; end with confirmation', async () => {
    const docCtx = await b.context('en-US');
    const colCtx = await b.context('en-US');
    const patCtx = await b.context('nl-NL', { viewport: { width: 390, height: 844 }, hasTouch: true });
    const home = await docCtx.newPage();
    const room = await docCtx.newPage();
    const col = await colCtx.newPage();
    const pat = await patCtx.newPage();
    const w = watch('three', { home, clinician: room, colleague: col, patient: pat });
    const all = { clinician: room, colleague: col, patient: pat };
    const step = async (n, name) => {
      for (const [who, p] of Object.entries(all)) await shot(p, `flows-three-${n}-${who}-${name}`);
    };
    try {
      await signInClinician(k, home, ORG, 'dokter.three@praktijk.example');
      await plan(home, 'Overleg drie', [['patient.three@mail.example', 'patient'], ['collega.three@praktijk.example', 'colleague']]);
      // The home page shows the consult's state; it stays open in a tab.
      await home.waitForSelector(`.consult-state .tag:has-text("${en('consults.nobody_waiting')}")`, { timeout: T });
      const href = await home.getAttribute('#consults a[href^="/room#"]', 'href');
      await room.goto(`https://localhost:${k.port}${href}`);
      await room.waitForSelector('#call-leave:visible', { timeout: T });

      // The colleague: no consent step, straight in (no waiting room).
      await col.goto(linkFor(k, 'collega.three@praktijk.example'));
      await col.waitForSelector('#s-welcome:visible', { timeout: T });
      await col.click('#welcome-next');
      await col.waitForSelector('#s-name:visible', { timeout: T });
      assert.equal(await col.isVisible('#s-consent'), false);
      await col.fill('#name', 'Dr. Jansen');
      await col.click('#name-form button[type=submit]');
      await col.waitForSelector('#s-admitted:visible', { timeout: T });
      await home.waitForSelector(`.consult-state .tag:has-text("${en('consults.in_room').replace('{n}', '1')}")`, { timeout: T });

      // The patient waits: the home page shows them without a reload.
      await patientToName(pat, linkFor(k, 'patient.three@mail.example'), 'Anna de Vries');
      await pat.waitForSelector('#s-waiting:visible', { timeout: T });
      await home.waitForSelector('.consult-state .waiting:has-text("Anna de Vries")', { timeout: T });
      assert.equal(await home.textContent('#consults-live'), en('consults.now_waiting_in')
        .replace('{name}', 'Anna de Vries').replace('{consult}', 'Overleg drie'));
      assert.equal(await home.getAttribute('#consults-live', 'aria-live'), 'polite');
      await shot(home, 'flows-three-1-clinician-home-waiting');

      // The device check's test sound (Dutch).
      await pat.waitForSelector('#check:visible', { timeout: T });
      await pat.click('#check-sound');
      await pat.waitForFunction((s) => document.querySelector('#check-sound-status').textContent === s,
        nl('check.sound_played'), { timeout: T });
      await assertTranslated(pat, 'device check (nl)');
      await shot(pat, 'flows-three-2-patient-test-sound');

      // Admitted: the live region says so.
      await room.waitForSelector('#waiting li:has-text("Anna de Vries")', { timeout: T });
      await room.click(`#waiting li:has-text("Anna de Vries") button:has-text("${en('room.admit')}")`);
      await pat.waitForSelector('#s-admitted:visible', { timeout: T });
      assert.equal(await pat.textContent('#announce'), nl('join.admitted_live'));
      assert.equal(await pat.getAttribute('#announce', 'aria-live'), 'assertive');
      await home.waitForSelector(`.consult-state .tag:has-text("${en('consults.in_room').replace('{n}', '2')}")`, { timeout: T });
      await home.waitForSelector(`.consult-state .tag:has-text("${en('consults.nobody_waiting')}")`, { timeout: T });

      // Everyone receives everyone: two remote people in each page.
      for (const [who, p] of Object.entries(all)) {
        await p.waitForFunction(() => document.querySelectorAll('#remote-tiles li').length === 2, null, { timeout: T });
        await assertReceivingFrom(p, 2, who);
      }
      assert.match(await room.textContent('#remote-tiles'), /Anna de Vries/);
      assert.match(await room.textContent('#remote-tiles'), /Dr\. Jansen/);
      await step(3, 'in-call');

      // Chat; a new message lands in a live log.
      assert.equal(await col.getAttribute('#chat-log', 'role'), 'log');
      await col.fill('#chat-text', 'Collega hier');
      await col.press('#chat-text', 'Enter');
      await room.fill('#chat-text', 'Welkom allebei');
      await room.press('#chat-text', 'Enter');
      for (const p of [room, col, pat]) await p.waitForSelector('#chat-log li:has-text("Welkom allebei")', { timeout: T });
      await pat.waitForSelector('#chat-log li:has-text("Collega hier")', { timeout: T });

      // The call controls by keyboard, with accessible names.
      const controls = pat.getByRole('group', { name: nl('call.controls') });
      for (const name of [nl('call.mic_off'), nl('call.cam_off'), nl('call.leave')])
        assert.equal(await controls.getByRole('button', { name, exact: true }).count(), 1, `a button named "${name}"`);
      await pat.focus('#admitted-title');
      const reached = [];
      for (let i = 0; i < 25 && !reached.includes('call-leave'); i++) {
        await pat.keyboard.press('Tab');
        reached.push(await pat.evaluate(() => document.activeElement.id));
      }
      const order = ['call-mic', 'call-cam', 'call-leave'].map((id) => reached.indexOf(id));
      assert.ok(order.every((i, n) => i >= 0 && (n === 0 || i > order[n - 1])), `Tab order: ${reached.join(' ')}`);
      await pat.focus('#call-mic');
      await pat.keyboard.press('Enter');
      assert.equal(await pat.textContent('#call-mic'), nl('call.mic_on'));
      await pat.keyboard.press('Space');
      assert.equal(await pat.textContent('#call-mic'), nl('call.mic_off'));

      // The patient reloads: back in by cookie, with the chat and media.
      await pat.reload();
      await pat.waitForSelector('#s-admitted:visible', { timeout: T });
      await pat.waitForSelector('#chat-log li:has-text("Welkom allebei")', { timeout: T });
      await pat.waitForSelector('#chat-log li:has-text("Collega hier")', { timeout: T });
      assert.equal(new URL(pat.url()).pathname, '/j/');
      for (const [who, p] of Object.entries(all)) {
        await p.waitForFunction(() => document.querySelectorAll('#remote-tiles li').length === 2, null, { timeout: T });
        await assertReceivingFrom(p, 2, `${who} after the reload`);
      }
      await step(4, 'after-reload');

      // End: a dialog in the page; Cancel keeps the consult.
      await room.click('#end');
      await room.waitForSelector('dialog.confirm[open]', { timeout: T });
      assert.equal(await room.textContent('dialog.confirm p'), en('room.confirm_end'));
      await shot(room, 'flows-three-5-clinician-confirm-end');
      await room.click('dialog.confirm button[data-answer=cancel]');
      await room.waitForSelector('dialog.confirm', { state: 'detached', timeout: T });
      assert.equal(await room.isVisible('#ended'), false);
      assert.equal(await pat.isVisible('#s-admitted'), true);
      await room.click('#end');
      await room.waitForSelector('dialog.confirm[open]', { timeout: T });
      await room.keyboard.press('Escape');
      await room.waitForSelector('dialog.confirm', { state: 'detached', timeout: T });
      assert.equal(await room.isVisible('#ended'), false);
      await room.click('#end');
      await room.click('dialog.confirm button[data-answer=ok]');
      await room.waitForSelector('#ended:visible', { timeout: T });
      await endPage(pat, nl('join.ended_title'));
      await endPage(col, en('join.ended_title'));
      await step(6, 'ended');
      w.clean();
    } catch (e) {
      await w.failed();
      throw e;
    } finally {
      await docCtx.close();
      await colCtx.close();
      await patCtx.close();
    }
  });

  // Last: it moves kamer's clock forward.
  test('refused consent, refused admission, a re-sent link; the admin sees counts only; Dutch and English; expiry', async () => {
    const docCtx = await b.context('en-US');
    const aCtx = await b.context('en-US');
    const bCtx = await b.context('nl-NL');
    const cCtx = await b.context('en-US');
    const admCtx = await b.context('en-US');
    const doc = await docCtx.newPage();
    const room = await docCtx.newPage();
    const pa = await aCtx.newPage();
    const pb = await bCtx.newPage();
    const pc = await cCtx.newPage();
    const adm = await admCtx.newPage();
    const w = watch('refusals', { home: doc, clinician: room, refuser: pa, refused: pb, resent: pc, admin: adm });
    try {
      await signInClinician(k, doc, ORG, 'dokter.refuse@praktijk.example');
      await plan(doc, 'Weigeringen', [['a.refuse@mail.example', 'patient'], ['b.refuse@mail.example', 'patient'],
        ['c.resend@mail.example', 'patient']]);
      const href = await doc.getAttribute('#consults a[href^="/room#"]', 'href');
      await room.goto(`https://localhost:${k.port}${href}`);
      await room.waitForSelector('#content:visible', { timeout: T });

      // A does not agree: asked again in the page, then the refused page.
      const linkA = linkFor(k, 'a.refuse@mail.example');
      await pa.goto(linkA);
      await pa.waitForSelector('#s-welcome:visible', { timeout: T });
      await pa.click('#welcome-next');
      await pa.waitForSelector('#s-consent:visible', { timeout: T });
      await pa.click('#consent-refuse');
      await pa.waitForSelector('dialog.confirm[open]', { timeout: T });
      assert.equal(await pa.textContent('dialog.confirm p'), en('join.confirm_refuse'));
      await pa.click('dialog.confirm button[data-answer=ok]');
      await endPage(pa, en('join.consent_refused_title'));
      assert.equal(await pa.textContent('#end-text'), en('join.consent_refused_text'));
      await assertTranslated(pa, 'consent refused');
      await shot(pa, 'flows-refusals-1-consent-refused');
      await pa.close();
      await room.waitForSelector(`#others li:has-text("${en('pstate.refused')}")`, { timeout: T });
      // The link does not work any more, in this browser or another.
      for (const ctx of [aCtx, cCtx]) {
        const again = await ctx.newPage();
        await again.goto(linkA);
        await endPage(again, en('join.invalid_title'));
        await shot(again, 'flows-refusals-2-consent-refused-link-again');
        await again.close();
      }

      // B waits (the home page shows it live) and is not let in.
      await patientToName(pb, linkFor(k, 'b.refuse@mail.example'), 'Bert Bakker');
      await pb.waitForSelector('#s-waiting:visible', { timeout: T });
      await doc.waitForSelector('.consult-state .waiting:has-text("Bert Bakker")', { timeout: T });
      await room.waitForSelector('#waiting li:has-text("Bert Bakker")', { timeout: T });
      await room.click(`#waiting li:has-text("Bert Bakker") button:has-text("${en('room.refuse')}")`);
      await room.waitForSelector('dialog.confirm[open]', { timeout: T });
      await room.click('dialog.confirm button[data-answer=ok]');
      await endPage(pb, nl('join.refused_title'));
      assert.equal(await pb.textContent('#end-text'), nl('join.refused_text'));
      await assertTranslated(pb, 'admission refused (nl)');
      await shot(pb, 'flows-refusals-3-admission-refused');
      await pb.close();
      // Refused at the door: B's link does not work any more either.
      const againB = await bCtx.newPage();
      await againB.goto(linkFor(k, 'b.refuse@mail.example'));
      await endPage(againB, nl('join.invalid_title'));
      await shot(againB, 'flows-refusals-3b-admission-refused-link-again');
      await againB.close();
      await doc.waitForSelector(`.consult-state .tag:has-text("${en('consults.nobody_waiting')}")`, { timeout: T });

      // C's link is re-sent from the home page: a new link; the old one is dead.
      const oldC = linkFor(k, 'c.resend@mail.example');
      await doc.click(`#consults tr:has-text("c.resend@mail.example") button:has-text("${en('inv.resend')}")`);
      await doc.waitForSelector('dialog.confirm[open]', { timeout: T });
      await doc.click('dialog.confirm button[data-answer=ok]');
      await doc.waitForFunction((s) => document.querySelector('#consults-status').textContent === s,
        en('inv.resent').replace('{email}', 'c.resend@mail.example'), { timeout: T });
      await shot(doc, 'flows-refusals-4-resent');
      const newC = linkFor(k, 'c.resend@mail.example');
      assert.notEqual(newC, oldC, 'a new link in a new email');
      await pc.goto(oldC);
      await endPage(pc, en('join.invalid_title'));
      await patientToName(pc, newC, 'Cora Cornelis');
      await pc.waitForSelector('#s-waiting:visible', { timeout: T });

      // The admin's "active consults now": a count, nothing about patients.
      await signInUser(k, adm, ORG, 'beheer@praktijk.example', 'admin');
      await adm.goto(`https://localhost:${k.port}/admin`);
      await adm.waitForSelector('#content:visible', { timeout: T });
      await adm.waitForFunction(() => /\d/.test(document.querySelector('#active-status').textContent), null, { timeout: T });
      const n = Number((await adm.textContent('#active-status')).match(/\d+/)[0]);
      assert.ok(n >= 1, `consults open now: ${n}`);
      // This consult's row: its clinician, nobody in the call, C waiting.
      const row = await adm.waitForSelector('#active tr:has-text("dokter.refuse@praktijk.example")', { timeout: T });
      const cells = await row.$$eval('td', (tds) => tds.map((td) => td.textContent));
      assert.equal(cells.length, 5);
      assert.deepEqual(cells.slice(2), ['dokter.refuse@praktijk.example', '0', '1']);
      const text = await adm.evaluate(() => document.body.innerText);
      for (const personal of ['@mail.example', 'Cora Cornelis', 'Anna de Vries', 'Bert Bakker', 'Weigeringen', 'Overleg drie'])
        assert.ok(!text.includes(personal), `the admin page shows "${personal}"`);
      await shot(adm, 'flows-refusals-5-admin-active');

      // Every page, in Dutch and in English (the switch on the page).
      for (const path of ['/', '/signin', '/home', '/account', '/admin']) {
        await adm.goto(`https://localhost:${k.port}${path}`);
        await adm.waitForSelector('main', { timeout: T });
        await adm.waitForLoadState('load', { timeout: T });
        for (const lang of ['nl', 'en']) {
          await adm.click(`button.lang[data-lang=${lang}]`);
          await adm.waitForFunction((l) => document.documentElement.lang === l, lang, { timeout: T });
          await assertTranslated(adm, `${path} (${lang})`, ['#audit']); // action codes are data
        }
        await shot(adm, `flows-refusals-6-admin${path.replace(/\//g, '-')}`);
      }
      for (const [what, p] of [['home', doc], ['room', room], ['waiting', pc]]) {
        for (const lang of ['nl', 'en']) {
          await p.click(`button.lang[data-lang=${lang}]`);
          await p.waitForFunction((l) => document.documentElement.lang === l, lang, { timeout: T });
          await assertTranslated(p, `${what} (${lang})`);
        }
      }

      // The consult runs out: everyone is told; the link is dead.
      const hooks = new Client(k);
      assert.equal((await hooks.post('/api/v1/test/clock', { advance: 2 * 3600 })).status, 200);
      assert.equal((await hooks.post('/api/v1/test/expire')).status, 200); // the 30 s expiry timer, now
      await endPage(pc, en('join.ended_title'));
      assert.equal(await pc.textContent('#end-text'), en('join.expired_text'));
      await room.waitForSelector('#ended:visible', { timeout: T });
      assert.equal(await room.textContent('#ended-text'), en('room.expired_text'));
      await shot(pc, 'flows-refusals-7-patient-expired');
      await shot(room, 'flows-refusals-7-clinician-expired');
      const again = await pc.context().newPage();
      await again.goto(newC);
      await endPage(again, en('join.invalid_title'));
      assert.equal(await again.textContent('#end-text'), en('join.invalid_text'));
      await shot(again, 'flows-refusals-8-link-expired');
      w.clean();
    } catch (e) {
      await w.failed();
      throw e;
    } finally {
      for (const ctx of [docCtx, aCtx, bCtx, cCtx, admCtx]) await ctx.close();
    }
  });
});

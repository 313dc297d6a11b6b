// consult.e2e.test.mjs — a consult in two Chromium contexts against a real
// kamer: the clinician signs in through the pages (set-up link, password,
// TOTP enrolment), plans a consult with one patient on the home page and
// opens the room; the patient opens the link from the email in the outbox,
// consents, gives a name and waits; the clinician gets the waiting alert and
// admits; chat goes both ways; the patient reloads (the token is gone from
// the address bar; the cookie brings them back) and sees the history; the
// clinician ends and the patient sees so. In Dutch and in English, with no
// untranslated key on any page. Screenshots of every step in artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runCli, startKamer } from '../integration/lib/kamer.mjs';
import { ARTIFACTS, launch, shot } from './lib/browser.mjs';
import { linkFor, signInUser } from './lib/consult_flow.mjs';

const ORG = 'Praktijk E2E';
const T = 15000;
let k, b;

const keys = Object.keys(JSON.parse(fs.readFileSync('web/i18n/en.json', 'utf8')));
const cat = { en: JSON.parse(fs.readFileSync('web/i18n/en.json', 'utf8')), nl: JSON.parse(fs.readFileSync('web/i18n/nl.json', 'utf8')) };
async function assertTranslated(page, what) {
  const text = await page.evaluate(() => document.body.innerText);
  const shown = keys.filter((key) => text.includes(key));
  assert.deepEqual(shown, [], `${what}: untranslated keys on the page`);
}

// Through the pages: set-up link -> password -> sign-in -> TOTP enrolment -> home.
const signInClinician = (page, email) => signInUser(k, page, ORG, email, 'clinician');

describe('a consult in Chromium', () => {
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

  for (const [lang, locale] of [['nl', 'nl-NL'], ['en', 'en-US']]) {
    test(`plan, join, wait, admit, chat, reload, end (${lang})`, async () => {
      const tr = (key) => cat[lang][key];
      const email = `dokter.${lang}@praktijk.example`;
      const patientEmail = `patient.${lang}@mail.example`;
      const docCtx = await b.context(locale);
      const patCtx = await b.context(locale, { viewport: { width: 390, height: 844 }, hasTouch: true }); // a phone
      const doc = await docCtx.newPage();
      const pat = await patCtx.newPage();
      const errors = [];
      for (const [who, p] of [['clinician', doc], ['patient', pat]])
        p.on('console', (m) => { if (m.type() === 'error') errors.push(`${who}: ${m.text()}`); });
      const step = async (n, name) => {
        await shot(doc, `consult-${lang}-${n}-clinician-${name}`);
        await shot(pat, `consult-${lang}-${n}-patient-${name}`);
      };
      try {
        // The clinician plans a consult on the home page.
        await signInClinician(doc, email);
        await doc.waitForSelector('#new-form:visible', { timeout: T });
        assert.equal(await doc.getAttribute('html', 'lang'), lang);
        await assertTranslated(doc, 'home');
        await doc.fill('#new-label', `Spreekuur ${lang}`);
        await doc.fill('#invitees input[type=email]', patientEmail);
        assert.equal(await doc.inputValue('#invitees select'), 'patient');
        await doc.click('#invitee-add');
        assert.equal(await doc.locator('#invitees > li').count(), 2);
        await doc.click('#invitees > li:nth-child(2) .remove');
        assert.equal(await doc.locator('#invitees > li').count(), 1);
        await shot(doc, `consult-${lang}-1-clinician-new`);
        await doc.click('#new-form button[type=submit]');
        await doc.waitForSelector(`#consults td:has-text("${patientEmail}")`, { timeout: T });
        await doc.waitForSelector(`#consults .tag:has-text("${tr('inv.sent')}")`, { timeout: T });
        assert.match(await doc.textContent('#consults'), new RegExp(`Spreekuur ${lang}`));
        await assertTranslated(doc, 'home with consult');
        await shot(doc, `consult-${lang}-2-clinician-planned`);

        // ... and opens the room.
        await doc.click('#consults a[href^="/room#"]');
        await doc.waitForURL(/\/room#\d+$/, { timeout: T });
        await doc.waitForSelector('#content:visible', { timeout: T });
        await doc.waitForSelector('#waiting-empty:visible', { timeout: T });
        assert.equal(await doc.textContent('#room-heading'), `Spreekuur ${lang}`);
        await assertTranslated(doc, 'room');

        // The patient opens the link from the email.
        const link = linkFor(k, patientEmail);
        await pat.goto(link);
        await pat.waitForSelector('#s-welcome:visible', { timeout: T });
        assert.equal(await pat.textContent('#welcome-org'), ORG);
        assert.equal(new URL(pat.url()).pathname, '/j/', 'the token is out of the address bar');
        await assertTranslated(pat, 'welcome');
        await step(3, 'welcome');
        await pat.click('#welcome-next');
        await pat.waitForSelector('#s-consent:visible', { timeout: T });
        assert.match(await pat.textContent('#consent-text'), /\S/);
        await step(4, 'consent');
        await pat.click('#consent-accept');
        await pat.waitForSelector('#s-name:visible', { timeout: T });
        await pat.fill('#name', 'Anna de Vries');
        await step(5, 'name');
        await pat.click('#name-form button[type=submit]');
        await pat.waitForSelector('#s-waiting:visible', { timeout: T });
        await assertTranslated(pat, 'waiting');

        // The clinician gets the alert: banner and tab title.
        await doc.waitForSelector('#waiting-banner:visible', { timeout: T });
        assert.match(await doc.textContent('#waiting-banner-text'), /Anna de Vries/);
        assert.equal(await doc.title(), tr('room.title_waiting').replace('{n}', '1'));
        await doc.waitForSelector('#waiting li:has-text("Anna de Vries")', { timeout: T });
        assert.match(await doc.textContent('#waiting'), new RegExp(tr('room.online')));
        await assertTranslated(doc, 'room with waiting');
        await step(6, 'waiting');
        // A private question before admitting, and the answer.
        await doc.click(`#waiting button:has-text("${tr('room.private')}")`);
        await doc.fill('#private-text', 'Wat is uw geboortedatum?');
        await doc.click('#private-form button[type=submit]');
        await pat.waitForSelector('#private-log li:has-text("Wat is uw geboortedatum?")', { timeout: T });
        await pat.fill('#private-text', '1 april 1970');
        await pat.click('#private-form button[type=submit]');
        await doc.waitForSelector('#private-log li:has-text("1 april 1970")', { timeout: T });
        await step(6, 'waiting-private');
        await doc.click(`#waiting button:has-text("${tr('room.admit')}")`);
        await pat.waitForSelector('#s-admitted:visible', { timeout: T });
        await doc.waitForSelector('#inroom li:has-text("Anna de Vries")', { timeout: T });
        assert.equal(await doc.title(), tr('room.title'));
        await assertTranslated(pat, 'admitted');
        await step(7, 'admitted');

        // Chat both ways, shown in both pages with the right sender.
        await pat.fill('#chat-text', 'Goedemorgen dokter');
        await pat.press('#chat-text', 'Enter');
        await doc.waitForSelector('#chat-log li:has-text("Goedemorgen dokter")', { timeout: T });
        await pat.waitForSelector('#chat-log li:has-text("Goedemorgen dokter")', { timeout: T });
        assert.match(await doc.textContent('#chat-log li:last-child .msg-head'), /Anna de Vries/);
        assert.match(await pat.textContent('#chat-log li:last-child .msg-head'), new RegExp(tr('chat.you')));
        await doc.fill('#chat-text', 'Goedemorgen, hoe gaat het?');
        await doc.click('#chat-form button[type=submit]');
        await pat.waitForSelector('#chat-log li:has-text("hoe gaat het")', { timeout: T });
        await doc.waitForSelector('#chat-log li:has-text("hoe gaat het")', { timeout: T });
        assert.match(await pat.textContent('#chat-log li:last-child .msg-head'), new RegExp(tr('chat.clinician')));
        assert.match(await doc.textContent('#chat-log li:last-child .msg-head'), new RegExp(tr('chat.you')));
        await step(8, 'chat');

        // A reload brings the patient back (cookie, no token) with the history.
        await pat.reload();
        await pat.waitForSelector('#s-admitted:visible', { timeout: T });
        await pat.waitForSelector('#chat-log li:has-text("hoe gaat het")', { timeout: T });
        assert.equal(await pat.locator('#chat-log li').count(), 2);
        assert.equal(new URL(pat.url()).pathname, '/j/');
        await step(9, 'reloaded');

        // The clinician ends; the patient is told.
        await doc.click('#end');
        await doc.waitForSelector('dialog.confirm[open]', { timeout: T });
        await shot(doc, `consult-${lang}-10-clinician-confirm-end`);
        await doc.click('dialog.confirm button[data-answer=ok]');
        await doc.waitForSelector('#ended:visible', { timeout: T });
        await pat.waitForSelector('#s-end:visible', { timeout: T });
        assert.equal(await pat.textContent('#end-title'), tr('join.ended_title'));
        await assertTranslated(pat, 'ended');
        await step(11, 'ended');

        // The link from the email is now refused.
        const late = await patCtx.newPage();
        await late.goto(link);
        await late.waitForSelector('#s-end:visible', { timeout: T });
        assert.equal(await late.textContent('#end-title'), tr('join.invalid_title'));
        await shot(late, `consult-${lang}-12-patient-link-invalid`);
        await late.close();
        assert.deepEqual(errors.filter((e) => !/status of 4\d\d/.test(e)), [], 'console errors');
      } catch (e) {
        await shot(doc, `consult-${lang}-failure-clinician`).catch(() => {});
        await shot(pat, `consult-${lang}-failure-patient`).catch(() => {});
        fs.writeFileSync(`${ARTIFACTS}/consult-${lang}-console.txt`, errors.join('\n'));
        fs.writeFileSync(`${ARTIFACTS}/consult-${lang}-kamer.log`, k.log());
        throw e;
      } finally {
        await docCtx.close();
        await patCtx.close();
      }
    });
  }

  test('WSS from a page served over HTTP/2 (RFC 8441 WebSocket over h2)', async () => {
    const d = await launch();
    try {
      const ctx = await d.context();
      const page = await ctx.newPage();
      await page.goto(`https://localhost:${k.port}/`);
      const got = await page.evaluate(() => new Promise((res) => {
        const ws = new WebSocket(`wss://${location.host}/ws`);
        ws.onmessage = (e) => res(e.data);
        ws.onerror = () => res('error');
        setTimeout(() => res('timeout'), 5000);
      }));
      assert.match(got, /"hello"/);
    } finally {
      await d.close();
    }
  });
});

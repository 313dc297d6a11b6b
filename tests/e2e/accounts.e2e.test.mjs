// accounts.e2e.test.mjs — a person's path through the account pages in
// Chromium against a real kamer: the set-up link, the first password, sign-in,
// TOTP enrolment (the code computed from the secret the page shows), the
// recovery codes, home, the admin page; in Dutch and in English, with no
// untranslated key on any page. Screenshots of every step in artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runCli, startKamer } from '../integration/lib/kamer.mjs';
import { totp } from '../integration/lib/client.mjs';
import { ARTIFACTS, launch, shot } from './lib/browser.mjs';

const PASSWORD = 'a long and unusual passphrase 7';
let k, b;

// Every catalogue key, so that a key shown instead of its text is caught.
const keys = Object.keys(JSON.parse(fs.readFileSync('web/i18n/en.json', 'utf8')));
async function assertTranslated(page, what) {
  // Audit rows show technical action codes ("signin.password"): leave tables out.
  const text = await page.evaluate(() => {
    const copy = document.body.cloneNode(true);
    for (const t of copy.querySelectorAll('table')) t.remove();
    return copy.innerText;
  });
  const shown = keys.filter((key) => text.includes(key));
  assert.deepEqual(shown, [], `${what}: untranslated keys on the page`);
}

describe('account pages in Chromium', () => {
  before(async () => {
    k = await startKamer();
    b = await launch();
    const r = runCli(['admin', 'org', 'create', 'Huisartsenpraktijk Test', '--data', k.dataDir]);
    assert.equal(r.status, 0, r.stderr);
  });
  after(async () => {
    if (b) await b.close();
    if (k) await k.stop();
  });

  for (const [lang, locale] of [['nl', 'nl-NL'], ['en', 'en-US']]) {
    test(`set-up link, enrolment, sign-in and admin page (${lang})`, async () => {
      const email = `admin.${lang}@praktijk.example`;
      const add = runCli(['admin', 'user', 'add', '--org', 'Huisartsenpraktijk Test', '--role', 'admin', '--email', email,
        '--data', k.dataDir], { KAMER_LISTEN: `127.0.0.1:${k.port}` });
      assert.equal(add.status, 0, add.stderr);
      const link = add.stdout.match(/https:\/\/localhost:\d+\/setup#[A-Za-z0-9_-]{43}/)[0];
      const ctx = await b.context(locale);
      const page = await ctx.newPage();
      const errors = [];
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      try {
        await page.goto(link);
        await page.waitForSelector('#setup-form:visible', { timeout: 10000 });
        assert.equal(await page.getAttribute('html', 'lang'), lang);
        await page.waitForFunction(() => document.querySelector('#account-email').value.includes('@'), null, { timeout: 10000 });
        assert.equal(await page.inputValue('#account-email'), email);
        await shot(page, `accounts-${lang}-1-setup`);
        await assertTranslated(page, 'setup');
        await page.fill('#new-password', PASSWORD);
        await page.fill('#repeat-password', PASSWORD);
        await page.click('#setup-form button[type=submit]');
        await page.waitForSelector('#done:visible', { timeout: 10000 });
        await shot(page, `accounts-${lang}-2-setup-done`);

        await page.goto(`https://localhost:${k.port}/signin`);
        await page.fill('#email', email);
        await page.fill('#password', PASSWORD);
        await page.click('#password-form button[type=submit]');
        await page.waitForSelector('#secret:visible', { timeout: 10000 });
        await assertTranslated(page, 'enrol');
        await shot(page, `accounts-${lang}-3-enrol`);
        const secret = (await page.textContent('#secret')).replace(/\s+/g, '');
        assert.match(secret, /^[A-Z2-7]{32}$/);
        assert.match(await page.getAttribute('#qr', 'src'), /^data:image\/svg\+xml;base64,/);
        await page.fill('#enrol-code', totp(secret, Math.floor(Date.now() / 1000)));
        await page.click('#enrol-form button[type=submit]');
        await page.waitForSelector('#codes:visible', { timeout: 10000 });
        const codes = await page.textContent('#codes');
        assert.equal((codes.match(/[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}/g) || []).length, 10);
        await shot(page, `accounts-${lang}-4-recovery-codes`);
        await page.click('#codes-continue');
        await page.waitForURL(/\/home$/, { timeout: 10000 });
        await page.waitForSelector('#org-name:has-text("Huisartsenpraktijk Test")', { timeout: 10000 });
        await assertTranslated(page, 'home');
        await shot(page, `accounts-${lang}-5-home`);

        await page.goto(`https://localhost:${k.port}/admin`);
        await page.waitForSelector(`text=${email}`, { timeout: 10000 });
        // The consent text (kamer's default, version 0) can be edited: a new version.
        await page.waitForFunction(() => document.querySelector('#consent-nl').value.length > 20, null, { timeout: 10000 });
        await page.waitForSelector('#consent-status:has-text(" ")', { timeout: 10000 });
        const v0 = Number((await page.textContent('#consent-status')).match(/\d+/)[0]);
        await page.fill('#consent-en', `Consent text, edited in the ${lang} run.`);
        await page.click('#consent-form button[type=submit]');
        await page.waitForFunction((v) => document.querySelector('#consent-status').textContent.includes(String(v)), v0 + 1, { timeout: 10000 });
        await page.waitForSelector('#active-status:has-text("0")', { timeout: 10000 });
        await assertTranslated(page, 'admin');
        await shot(page, `accounts-${lang}-6-admin`);
        assert.deepEqual(errors.filter((e) => !/status of 4\d\d/.test(e)), [], 'console errors');
      } catch (e) {
        await shot(page, `accounts-${lang}-failure`).catch(() => {});
        fs.writeFileSync(`${ARTIFACTS}/accounts-${lang}-console.txt`, errors.join('\n'));
        fs.writeFileSync(`${ARTIFACTS}/accounts-${lang}-kamer.log`, k.log());
        throw e;
      } finally {
        await ctx.close();
      }
    });
  }
});

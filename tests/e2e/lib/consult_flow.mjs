// consult_flow.mjs — the steps of a consult that several browser tests
// share: a clinician signed in through the pages (set-up link, password,
// TOTP enrolment), a consult planned on the home page and its room opened,
// the join link read from the outbox, a patient brought to the waiting room.
// Every wait is bounded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '../../integration/lib/kamer.mjs';
import { totp } from '../../integration/lib/client.mjs';

export const PASSWORD = 'a long and unusual passphrase 7';
export const T = 20000;

// The newest join link emailed to email (from k's outbox).
export function linkFor(k, email) {
  const dir = path.join(k.dataDir, 'outbox');
  const mails = fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort()
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .filter((m) => m.includes(`To: ${email}`));
  assert.ok(mails.length > 0, `an email to ${email}`);
  const m = mails[mails.length - 1].replace(/=\r?\n/g, '').match(/https:\/\/localhost:\d+\/j\/[A-Za-z0-9_-]{43}/);
  assert.ok(m, 'a join link in the email');
  return m[0];
}

// Through the pages: set-up link -> password -> sign-in -> TOTP enrolment -> home.
export async function signInClinician(k, page, org, email) {
  return signInUser(k, page, org, email, 'clinician');
}

// The same for a user of any role ('clinician' or 'admin').
export async function signInUser(k, page, org, email, role) {
  const add = runCli(['admin', 'user', 'add', '--org', org, '--role', role, '--email', email, '--data', k.dataDir],
    { KAMER_LISTEN: `127.0.0.1:${k.port}` });
  assert.equal(add.status, 0, add.stderr);
  const link = add.stdout.match(/https:\/\/localhost:\d+\/setup#[A-Za-z0-9_-]{43}/)[0];
  await page.goto(link);
  await page.waitForSelector('#setup-form:visible', { timeout: T });
  await page.waitForFunction(() => document.querySelector('#account-email').value.includes('@'), null, { timeout: T });
  await page.fill('#new-password', PASSWORD);
  await page.fill('#repeat-password', PASSWORD);
  await page.click('#setup-form button[type=submit]');
  await page.waitForSelector('#done:visible', { timeout: T });
  await page.goto(`https://localhost:${k.port}/signin`);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('#password-form button[type=submit]');
  await page.waitForSelector('#secret:visible', { timeout: T });
  const secret = (await page.textContent('#secret')).replace(/\s+/g, '');
  await page.fill('#enrol-code', totp(secret, Math.floor(Date.now() / 1000)));
  await page.click('#enrol-form button[type=submit]');
  await page.waitForSelector('#codes:visible', { timeout: T });
  await page.click('#codes-continue');
  await page.waitForURL(/\/home$/, { timeout: T });
}

// On the home page: plans a consult labelled label for one patient and
// opens its room.
export async function planAndOpen(page, label, patientEmail) {
  await page.waitForSelector('#new-form:visible', { timeout: T });
  await page.fill('#new-label', label);
  await page.fill('#invitees input[type=email]', patientEmail);
  await page.click('#new-form button[type=submit]');
  await page.waitForSelector(`#consults td:has-text("${patientEmail}")`, { timeout: T });
  await page.click('#consults a[href^="/room#"]');
  await page.waitForURL(/\/room#\d+$/, { timeout: T });
  await page.waitForSelector('#content:visible', { timeout: T });
}

// The patient opens link and goes through welcome, consent and name.
export async function patientToName(page, link, name) {
  await page.goto(link);
  await page.waitForSelector('#s-welcome:visible', { timeout: T });
  await page.click('#welcome-next');
  await page.waitForSelector('#s-consent:visible', { timeout: T });
  await page.click('#consent-accept');
  await page.waitForSelector('#s-name:visible', { timeout: T });
  await page.fill('#name', name);
  await page.click('#name-form button[type=submit]');
}

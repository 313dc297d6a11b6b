// browser.mjs — Debian's Chromium driven by playwright-core for the
// end-to-end tests: headless, fake camera and microphone, a fresh profile,
// no network beyond loopback. Screenshots go to tests/e2e/artifacts/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const ARTIFACTS = path.resolve('tests/e2e/artifacts');

export async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kamer-chromium-'));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const exe = fs.existsSync('/usr/lib/chromium/chromium') ? '/usr/lib/chromium/chromium' : '/usr/bin/chromium';
  const browser = await chromium.launch({
    executablePath: exe,
    headless: true,
    timeout: 30000,
    args: [
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--no-sandbox',
      '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns', `--user-data-dir=${profile}`,
    ].filter((a) => !a.startsWith('--user-data-dir')),
  });
  return {
    browser,
    async context(locale = 'en-US', extra = {}) {
      return browser.newContext({ ignoreHTTPSErrors: true, locale, ...extra });
    },
    async close() {
      await browser.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

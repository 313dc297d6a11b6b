// media_checks.mjs — what the browser tests check about media and text in a
// page: getStats summaries (window.kamerMedia, web/media.js), "does media
// from N people keep arriving", and "no catalogue key shows untranslated".
// Every wait is bounded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { T } from './consult_flow.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const cat = {
  en: JSON.parse(fs.readFileSync('web/i18n/en.json', 'utf8')),
  nl: JSON.parse(fs.readFileSync('web/i18n/nl.json', 'utf8')),
};
const keys = Object.keys(cat.en);

// No catalogue key shows as text in page (a missing translation shows its
// key). skip: selectors of elements whose text is data, not catalogue
// strings (the audit log's action codes such as "signin.password").
export async function assertTranslated(page, what, skip = []) {
  const text = await page.evaluate((sel) => {
    let s = document.body.innerText;
    for (const e of sel.flatMap((x) => [...document.querySelectorAll(x)])) s = s.replace(e.innerText, '');
    return s;
  }, skip);
  const shown = keys.filter((key) => text.includes(key));
  assert.deepEqual(shown, [], `${what}: untranslated keys on the page`);
}

// The stats summary of connection kind ('pub', 'sub', 'echo') in page, or null.
export const stats = (page, kind) => page.evaluate((c) => window.kamerMedia.stats(c), kind);
export const inbound = (s, kind) => (s ? s.inbound.filter((i) => i.kind === kind) : []);

// How many inbound streams of kind grew in field between two samples ms
// apart (streams are told apart by ssrc, so a stale entry of a stream that
// went away does not count).
export async function growing(page, kind, field, ms = 1500) {
  const s1 = await stats(page, 'sub');
  await sleep(ms);
  const s2 = await stats(page, 'sub');
  const before = new Map(inbound(s1, kind).map((i) => [i.ssrc, i[field] || 0]));
  return inbound(s2, kind).filter((i) => (i[field] || 0) > (before.get(i.ssrc) ?? 0)).length;
}

// Waits (bounded) until page keeps receiving video frames and audio samples
// from at least n people.
export async function assertReceivingFrom(page, n, who, ms = T) {
  const end = Date.now() + ms;
  let v = 0, a = 0;
  while (Date.now() < end) {
    v = await growing(page, 'video', 'framesDecoded');
    a = await growing(page, 'audio', 'totalSamplesReceived', 200);
    if (v >= n && a >= n) return;
  }
  const last = await stats(page, 'sub');
  assert.fail(`${who}: video from ${v} and audio from ${a} of ${n} people keeps arriving; last: ${JSON.stringify(last && last.inbound)}`);
}

// i18n_keys.test.mjs — the browser client's string catalogues: both parse,
// have the same keys and only non-empty strings, use the same {names} per
// key, and hold every key the pages use (data-i18n* attributes in web/*.html,
// t('...') calls and quoted catalogue-like keys in web/*.js). Also: no inline
// script, style or event handler in the pages (the CSP forbids them).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const WEB = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', 'web');
const read = (f) => readFileSync(join(WEB, f), 'utf8');
const en = JSON.parse(read('i18n/en.json'));
const nl = JSON.parse(read('i18n/nl.json'));
const files = (ext) => readdirSync(WEB).filter((f) => f.endsWith(ext)).sort();
const names = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('both catalogues have the same keys and non-empty strings', () => {
  assert.deepEqual(Object.keys(nl).sort(), Object.keys(en).sort());
  for (const [lang, c] of [['en', en], ['nl', nl]])
    for (const [k, v] of Object.entries(c)) assert.ok(typeof v === 'string' && v.trim() !== '', `${lang}: ${k} is empty`);
});

test('placeholders are the same in both languages', () => {
  for (const k of Object.keys(en)) assert.deepEqual(names(nl[k]), names(en[k]), `{names} of ${k}`);
});

function usedKeys() {
  const used = new Map(); // key -> file
  const add = (k, f) => used.has(k) || used.set(k, f);
  for (const f of files('.html'))
    for (const m of read(f).matchAll(/data-i18n(?:-label|-alt)?="([^"]+)"/g)) add(m[1], f);
  const namespaces = new Set(Object.keys(en).map((k) => k.split('.')[0]));
  for (const f of files('.js')) {
    const src = read(f);
    for (const m of src.matchAll(/\bt\(\s*'([^']+)'/g)) add(m[1], f);
    // Keys kept in tables ('err.signin_failed'): quoted a.b strings whose
    // first part is a catalogue namespace.
    for (const m of src.matchAll(/'([a-z0-9_]+)\.([a-z0-9_.]+)'/g)) if (namespaces.has(m[1])) add(`${m[1]}.${m[2]}`, f);
  }
  return used;
}

test('every key used in web/ is in both catalogues', () => {
  const used = usedKeys();
  assert.ok(used.size > 50, `found only ${used.size} keys`);
  for (const [k, f] of used) {
    assert.ok(k in en, `${k} (used in ${f}) is missing from en.json`);
    assert.ok(k in nl, `${k} (used in ${f}) is missing from nl.json`);
  }
});

test('pages have no inline script, style or handlers and load the language switch', () => {
  for (const f of files('.html')) {
    const html = read(f);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${f}: inline script`);
    assert.doesNotMatch(html, /<style\b|\sstyle=/i, `${f}: inline style`);
    assert.doesNotMatch(html, /\son[a-z]+=/i, `${f}: inline event handler`);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i, `${f}: resource from another origin`);
    assert.match(html, /data-lang="nl"/, `${f}: language switch`);
    assert.match(html, /data-lang="en"/, `${f}: language switch`);
    for (const m of html.matchAll(/<input\b[^>]*\bid="([^"]+)"[^>]*>/g)) {
      if (/type="hidden"|aria-hidden="true"/.test(m[0])) continue;
      assert.match(html, new RegExp(`for="${m[1]}"`), `${f}: input #${m[1]} has no label`);
    }
  }
});

test('api.js does no DOM work', () => {
  assert.doesNotMatch(read('api.js'), /\bdocument\b|\bwindow\.|innerHTML/);
});

test('no innerHTML anywhere', () => {
  for (const f of files('.js')) assert.doesNotMatch(read(f), /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, f);
});

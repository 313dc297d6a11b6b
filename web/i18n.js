// i18n.js — the string catalogues (one file per language in i18n/) and the
// language switch. No DOM work besides applying strings to elements marked
// with data-i18n (text), data-i18n-label (aria-label) and data-i18n-alt (alt);
// data-i18n-args holds a JSON object of {name} values for the text.
const SUPPORTED = ['nl', 'en'];
const catalogues = {};

export function pickLanguage() {
  const saved = localStorage.getItem('kamer.lang');
  if (SUPPORTED.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).slice(0, 2).toLowerCase();
    if (SUPPORTED.includes(base)) return base;
  }
  return 'en';
}

export async function load(lang) {
  if (!catalogues[lang]) {
    const res = await fetch(`/i18n/${lang}.json`);
    catalogues[lang] = await res.json();
  }
  return catalogues[lang];
}

// The string for key in lang with {name} replaced from vars; the key itself
// when the catalogue lacks it.
export function t(lang, key, vars) {
  const c = catalogues[lang] || {};
  const s = key in c ? c[key] : key;
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

function argsOf(el) {
  if (!el.dataset.i18nArgs) return undefined;
  try {
    return JSON.parse(el.dataset.i18nArgs);
  } catch {
    return undefined;
  }
}

// Loads lang, applies it to the document and announces the change with the
// event 'kamer:lang' on document (pages re-render dates and tables on it).
export async function apply(lang) {
  await load(lang);
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(lang, el.dataset.i18n, argsOf(el));
  for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(lang, el.dataset.i18nLabel));
  for (const el of document.querySelectorAll('[data-i18n-alt]')) el.setAttribute('alt', t(lang, el.dataset.i18nAlt));
  for (const b of document.querySelectorAll('button.lang')) b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
  localStorage.setItem('kamer.lang', lang);
  document.dispatchEvent(new CustomEvent('kamer:lang', { detail: lang }));
}

export function wireSwitch() {
  for (const b of document.querySelectorAll('button.lang')) b.addEventListener('click', () => apply(b.dataset.lang));
}

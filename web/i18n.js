// i18n.js — the string catalogues (one file per language in i18n/) and the
// language switch. No DOM work besides applying strings to [data-i18n].
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

export function t(lang, key) {
  const c = catalogues[lang] || {};
  return key in c ? c[key] : key;
}

export async function apply(lang) {
  await load(lang);
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(lang, el.dataset.i18n);
  for (const b of document.querySelectorAll('button.lang')) b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
  localStorage.setItem('kamer.lang', lang);
}

export function wireSwitch() {
  for (const b of document.querySelectorAll('button.lang')) b.addEventListener('click', () => apply(b.dataset.lang));
}

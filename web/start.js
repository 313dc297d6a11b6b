// start.js — the placeholder start page: language switch and a health check.
import { apply, pickLanguage, t, wireSwitch } from './i18n.js';

const lang = pickLanguage();
wireSwitch();
await apply(lang);
try {
  const res = await fetch('/healthz');
  const ok = res.ok && (await res.json()).status === 'ok';
  document.getElementById('status').textContent = t(document.documentElement.lang, ok ? 'start.server_ok' : 'start.server_down');
} catch {
  document.getElementById('status').textContent = t(document.documentElement.lang, 'start.server_down');
}

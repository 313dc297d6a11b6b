// format.js — small pure helpers for the pages: no DOM and no network, so
// that tests/web/ can run them under Node.

// "JBSWY3DPEHPK3PXP" -> "JBSW Y3DP EHPK 3PXP" (groups of 4 for reading aloud
// or typing; authenticator apps ignore the spaces).
export function groupSecret(secret) {
  return String(secret).replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');
}

// The server's SVG text as a data: URL for an <img> (the CSP allows data:
// images; the SVG is never put into the document as markup).
export function svgDataUrl(svg) {
  const bytes = new TextEncoder().encode(String(svg));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return 'data:image/svg+xml;base64,' + btoa(bin);
}

// A Date from an API time: unix seconds (or milliseconds when the number is
// that large); null for anything else.
export function dateOf(v) {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return null;
  return new Date(n > 1e12 ? n : n * 1000);
}

// "Firefox on Linux"-like summary of a User-Agent, or '' when unknown.
export function uaSummary(ua) {
  const s = String(ua || '');
  const browsers = [
    [/Edg(e|A|iOS)?\//, 'Edge'], [/OPR\/|Opera/, 'Opera'], [/SamsungBrowser\//, 'Samsung Internet'],
    [/Firefox\/|FxiOS\//, 'Firefox'], [/Chrome\/|CriOS\//, 'Chrome'], [/Safari\//, 'Safari'],
  ];
  const systems = [
    [/Android/, 'Android'], [/iPhone|iPad|iPod/, 'iOS'], [/Windows/, 'Windows'],
    [/Mac OS X|Macintosh/, 'macOS'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux'],
  ];
  const b = browsers.find(([re]) => re.test(s));
  const o = systems.find(([re]) => re.test(s));
  if (b && o) return `${b[1]} / ${o[1]}`;
  return b ? b[1] : o ? o[1] : '';
}

// True when a policy field's limits make it a yes/no switch.
export function isSwitch(limits) {
  return Array.isArray(limits) && limits[0] === 0 && limits[1] === 1;
}

// A whole number from a form field's text within [min, max], or null.
export function wholeInRange(text, min, max) {
  const s = String(text).trim();
  if (!/^-?\d+$/.test(s)) return null;
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min || n > max) return null;
  return n;
}

// The 6-digit TOTP code in what was typed (spaces and dashes allowed), or null.
export function totpCode(text) {
  const s = String(text).replace(/[\s-]/g, '');
  return /^\d{6}$/.test(s) ? s : null;
}

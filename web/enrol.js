// enrol.js — the two-step verification enrolment shown by the sign-in and
// account pages: QR code and key, the confirming code, then the recovery
// codes. Both pages carry the same markup (ids enrol-*, qr, secret, codes).
import * as api from './api.js';
import { groupSecret, svgDataUrl, totpCode } from './format.js';
import { $, clear, copyText, say, sayError, show } from './page.js';

let wired = false;

// Starts an enrolment (password only when 2FA is already on) and shows the
// QR step. Resolves to the API result; on failure the caller shows the error.
// onDone() runs when the user has seen the recovery codes and continues.
export async function startEnrol(password, onDone) {
  const r = await api.enrolStart(password);
  if (r.status !== 200) return r;
  wire(onDone);
  $('qr').src = svgDataUrl(r.body.qr_svg);
  $('secret').textContent = groupSecret(r.body.secret);
  $('enrol-code').value = '';
  clear($('enrol-error'));
  show($('enrol-codes'), false);
  show($('enrol-scan'), true);
  show($('enrol'), true);
  $('enrol-title').focus();
  return r;
}

function wire(onDone) {
  if (wired) return;
  wired = true;
  $('enrol-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = $('enrol-error');
    const input = $('enrol-code');
    const code = totpCode(input.value);
    if (!code) {
      input.setAttribute('aria-invalid', 'true');
      say(err, 'err.code_format');
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    clear(err);
    const button = ev.submitter || $('enrol-form').querySelector('button[type=submit]');
    button.disabled = true;
    const r = await api.enrolConfirm(code);
    button.disabled = false;
    if (r.status !== 200) {
      input.setAttribute('aria-invalid', 'true');
      sayError(err, r);
      input.select();
      return;
    }
    showCodes(r.body.recovery_codes || []);
  });
  $('codes-copy').addEventListener('click', async () => {
    const list = [...$('codes').children].map((li) => li.textContent).join('\n');
    const ok = await copyText(list);
    say($('codes-status'), ok ? 'codes.copied' : 'codes.copy_failed');
  });
  $('codes-continue').addEventListener('click', () => onDone());
}

function showCodes(codes) {
  const ul = $('codes');
  ul.replaceChildren(...codes.map((c) => {
    const li = document.createElement('li');
    li.textContent = c;
    return li;
  }));
  $('qr').removeAttribute('src');
  $('secret').textContent = '';
  clear($('codes-status'));
  show($('enrol-scan'), false);
  show($('enrol-codes'), true);
  $('codes-title').focus();
}

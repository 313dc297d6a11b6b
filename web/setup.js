// setup.js — the set-up link page (/setup#TOKEN): checks the link, shows the
// account's email and the password rule, and sets the first password.
import * as api from './api.js';
import { $, clear, initPage, say, sayError, show } from './page.js';

const error = $('error');
const token = location.hash.slice(1);
let minLen = 0;

function invalid() {
  clear($('status'));
  show($('form-section'), false);
  show($('invalid'), true);
  $('heading').focus();
}

// Local checks before asking the server (which has the last word).
function localProblem(pw, repeat) {
  if (!pw) return ['err.fields_required'];
  if ([...pw].length < minLen) return ['pw.too_short', { n: minLen }];
  if (pw !== repeat) return ['err.mismatch'];
  return null;
}

$('setup-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const pw = $('new-password'), repeat = $('repeat-password');
  const problem = localProblem(pw.value, repeat.value);
  if (problem) {
    say(error, ...problem);
    (problem[0] === 'err.mismatch' ? repeat : pw).focus();
    return;
  }
  clear(error);
  ev.submitter && (ev.submitter.disabled = true);
  const r = await api.setup(token, pw.value);
  ev.submitter && (ev.submitter.disabled = false);
  if (r.status === 200) {
    pw.value = repeat.value = '';
    show($('form-section'), false);
    show($('done'), true);
    say($('status'), 'setup.done_status');
    $('heading').focus();
    return;
  }
  if (r.code === 'setup_link_invalid') return invalid();
  sayError(error, r, { n: minLen });
  pw.focus();
});

await initPage();
if (!/^[A-Za-z0-9_-]{16,200}$/.test(token)) {
  invalid();
} else {
  const r = await api.setupCheck(token);
  if (r.status === 200) {
    minLen = r.body.min_password_len || 0;
    $('account-email').value = r.body.email;
    say($('rules'), 'setup.rules', { n: minLen });
    clear($('status'));
    show($('form-section'), true);
    $('new-password').focus();
  } else if (r.code === 'setup_link_invalid' || r.status === 404) {
    invalid();
  } else {
    clear($('status'));
    sayError(error, r);
  }
}

// signin.js — the sign-in page: email and password, then the second step
// (TOTP code or recovery code) or, for a user without 2FA, the enrolment.
import * as api from './api.js';
import { totpCode } from './format.js';
import { startEnrol } from './enrol.js';
import { $, clear, initPage, say, sayError, show } from './page.js';

const STEPS = ['step-password', 'step-totp', 'enrol', 'step-left'];
const error = $('error');
let useRecovery = false;

function step(id, focus) {
  for (const s of STEPS) show($(s), s === id);
  if (focus) $(focus).focus();
}

const home = () => location.assign('/home');

async function go(next) {
  clear(error);
  if (next === 'done') return home();
  if (next === 'totp') return step('step-totp', useRecovery ? 'recovery-code' : 'totp-code');
  if (next === 'enrol') {
    step('', null);
    const r = await startEnrol(undefined, home);
    if (r.status !== 200) failed(r);
    return;
  }
  step('step-password', 'email');
}

// Shows r's error; a partial session that ended starts over.
function failed(r) {
  if (r.code === 'not_signed_in') {
    step('step-password', 'email');
    say(error, 'err.signin_again');
    return;
  }
  sayError(error, r);
}

$('password-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const email = $('email'), pw = $('password');
  if (!email.value.trim() || !pw.value) {
    say(error, 'err.fields_required');
    (email.value.trim() ? pw : email).focus();
    return;
  }
  clear(error);
  ev.submitter && (ev.submitter.disabled = true);
  const r = await api.signin(email.value.trim(), pw.value);
  ev.submitter && (ev.submitter.disabled = false);
  pw.value = '';
  if (r.status !== 200) {
    sayError(error, r);
    pw.focus();
    return;
  }
  go(r.body.next);
});

$('totp-switch').addEventListener('click', () => {
  useRecovery = !useRecovery;
  show($('totp-by-app'), !useRecovery);
  show($('totp-by-recovery'), useRecovery);
  say($('totp-switch'), useRecovery ? 'totp.use_app' : 'totp.use_recovery');
  clear(error);
  $(useRecovery ? 'recovery-code' : 'totp-code').focus();
});

$('totp-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $(useRecovery ? 'recovery-code' : 'totp-code');
  const value = useRecovery ? input.value.trim().toLowerCase() : totpCode(input.value);
  if (!value) {
    say(error, useRecovery ? 'err.recovery_format' : 'err.code_format');
    input.focus();
    return;
  }
  clear(error);
  ev.submitter && (ev.submitter.disabled = true);
  const r = useRecovery ? await api.recovery(value) : await api.totp(value);
  ev.submitter && (ev.submitter.disabled = false);
  if (r.status !== 200) {
    input.select();
    failed(r);
    if (r.code !== 'not_signed_in') input.focus();
    return;
  }
  input.value = '';
  if (useRecovery && typeof r.body.recovery_codes_left === 'number') {
    say($('left-text'), 'left.text', { n: r.body.recovery_codes_left });
    return step('step-left', 'left-title');
  }
  go(r.body.next);
});

await initPage();
// A reload in the middle of signing in continues where it was.
const me = await api.me();
if (me.status === 200) {
  const stage = me.body.stage;
  go(stage === 'full' ? 'done' : stage === 'password' ? 'totp' : stage === 'enrol' ? 'enrol' : '');
} else {
  $('email').focus();
}

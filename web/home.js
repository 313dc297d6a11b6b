// home.js — the page after sign-in: organisation, who is signed in, links to
// the account and administration pages, and the (future) consults.
import { $, initPage, requireSession, say, sayRaw, show, t } from './page.js';

const ROLES = { admin: 'role.admin', clinician: 'role.clinician' };

await initPage();
const me = await requireSession();
if (me) {
  sayRaw($('org-name'), me.org.name);
  // The role is a translated value inside a sentence: redone on a switch.
  const render = () => {
    const role = ROLES[me.user.role] ? t(ROLES[me.user.role]) : me.user.role;
    say($('whoami'), 'home.whoami', { email: me.user.email, role });
  };
  render();
  document.addEventListener('kamer:lang', render);
  show($('totp-hint'), !me.totp);
  show($('content'), true);
}

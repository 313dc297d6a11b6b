// api.js — kamer's JSON API (docs/api.md) as fetch wrappers. No DOM here:
// pages call these and render the results themselves.
//
// Every call resolves (never rejects) to {status, body} and, on an error,
// also {code, reason, field, message, retryAfter}: code is the API's
// error.code ('network' when the server could not be reached, 'bad_answer'
// when the answer was not JSON), reason and field are set when the API adds
// them, retryAfter is the Retry-After header in seconds (429) or null.
const BASE = '/api/v1';

export const AUDIT_CSV_URL = `${BASE}/admin/audit.csv`;
export const AUDIT_JSON_URL = `${BASE}/admin/audit.json`;
export const CALLLOG_CSV_URL = `${BASE}/admin/calllog.csv`;

const listeners = new Set();

// cb() runs after every answered request: the server's idle timer restarts
// on each request, so pages can follow it. Returns a function that removes cb.
export function onRequest(cb) {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

async function call(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' }, cache: 'no-store' };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch {
    return { status: 0, body: null, code: 'network', reason: null, field: null, message: '', retryAfter: null };
  }
  for (const cb of listeners) cb();
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  const out = { status: res.status, body: json };
  if (res.ok && json !== null) return out;
  const err = json && typeof json.error === 'object' && json.error !== null ? json.error : {};
  const ra = Number.parseInt(res.headers.get('retry-after') || '', 10);
  return {
    ...out,
    code: typeof err.code === 'string' ? err.code : res.ok ? 'bad_answer' : 'http_' + res.status,
    reason: typeof err.reason === 'string' ? err.reason : null,
    field: typeof err.field === 'string' ? err.field : null,
    message: typeof err.message === 'string' ? err.message : '',
    retryAfter: Number.isFinite(ra) && ra >= 0 ? ra : null,
  };
}

const get = (p) => call('GET', p);
const post = (p, b = {}) => call('POST', p, b);
const put = (p, b = {}) => call('PUT', p, b);
const del = (p) => call('DELETE', p);
const id = (x) => encodeURIComponent(String(x));

// Sign-in and the caller's own account.
export const signin = (email, password) => post('/auth/signin', { email, password });
export const totp = (code) => post('/auth/totp', { code });
export const recovery = (recoveryCode) => post('/auth/totp', { recovery_code: recoveryCode });
export const enrolStart = (password) => post('/auth/enrol/start', password === undefined ? {} : { password });
export const enrolConfirm = (code) => post('/auth/enrol/confirm', { code });
export const setupCheck = (token) => post('/auth/setup/check', { token });
export const setup = (token, password) => post('/auth/setup', { token, password });
export const signout = () => post('/auth/signout');
export const me = () => get('/auth/me');
export const sessions = () => get('/auth/sessions');
export const endSession = (sid) => del(`/auth/sessions/${id(sid)}`);
export const changePassword = (current, next) => post('/auth/password', { current, new: next });

// Administration (role admin).
export const users = () => get('/admin/users');
export const addUser = (email, role) => post('/admin/users', { email, role });
export const setRole = (uid, role) => call('PATCH', `/admin/users/${id(uid)}`, { role });
export const disableUser = (uid) => post(`/admin/users/${id(uid)}/disable`);
export const enableUser = (uid) => post(`/admin/users/${id(uid)}/enable`);
export const reset2fa = (uid) => post(`/admin/users/${id(uid)}/reset-2fa`);
export const newSetupLink = (uid) => post(`/admin/users/${id(uid)}/setup-link`);
export const policy = () => get('/admin/policy');
export const putPolicy = (fields) => put('/admin/policy', fields);
export const consentText = () => get('/admin/consent');
export const putConsentText = (nl, en) => put('/admin/consent', { nl, en });
export const activeConsults = () => get('/admin/active');
export const audit = (after, limit) => get(`/admin/audit?after=${id(after)}&limit=${id(limit)}`);

// Consults (clinicians) and the participant's cookie (join page).
export const consults = () => get('/consults');
export const consult = (cid) => get(`/consults/${id(cid)}`);
export const createConsult = (fields) => post('/consults', fields);
export const endConsult = (cid) => post(`/consults/${id(cid)}/end`);
export const resendInvitation = (iid) => post(`/invitations/${id(iid)}/resend`);
export const revokeInvitation = (iid) => post(`/invitations/${id(iid)}/revoke`);
export const participantCookie = (resume) => post('/participant/cookie', { resume });

// gen_signaling_corpus.mjs — writes the seed corpora of the signaling schema
// fuzzers: tests/fuzz/corpus/ws_msg/seed-* (one WSS message each) and
// tests/fuzz/corpus/api_body/seed-* (a route byte, then a request body).
// Every seed is written here: a valid example of every message type and
// every API body (docs/protocol.md, docs/api.md), plus a few broken ones.
// The route byte is the route's index in signaling/schema.c's api_bodies
// table, read from that file, so that seeds follow the table's order.
// A developer tool; crash inputs found later are kept beside these seeds.
//
//   node tests/fuzz/gen_signaling_corpus.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const corpus = path.join(root, 'tests/fuzz/corpus');
const SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n' +
  'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=rtcp-mux\r\n' +
  'a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\na=setup:actpass\r\n' +
  'a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n' +
  'a=rtpmap:111 opus/48000/2\r\na=sendonly\r\n';
const TOKEN = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ'; // 43 characters, like a link's
const nest = (n) => '['.repeat(n) + ']'.repeat(n);

// ---- WSS messages: [name, message (object or raw string)]
const ws = [
  ['ping', { type: 'ping', ref: 'p1' }],
  ['join', { type: 'join', token: TOKEN }],
  ['resume', { type: 'resume' }],
  ['consent-yes', { type: 'consent', accept: true, version: 0, ref: 'c1' }],
  ['consent-no', { type: 'consent', accept: false, version: 3 }],
  ['name', { type: 'name', display_name: 'Anna', ref: 'n1' }],
  ['name-utf8', { type: 'name', display_name: 'Zoë Ørsted-Ünal' }],
  ['leave', { type: 'leave' }],
  ['chat', { type: 'chat', text: 'Goedemorgen', ref: 'chat1' }],
  ['chat-max', { type: 'chat', text: 'x'.repeat(2000) }],
  ['private-staff', { type: 'private', participant: 34, text: 'Wat is uw geboortedatum?', ref: 'p2' }],
  ['private-participant', { type: 'private', text: '1 april 1970', ref: 'm1' }],
  ['watch', { type: 'watch', consult: 12 }],
  ['admit', { type: 'admit', participant: 34, ref: 'd1' }],
  ['refuse', { type: 'refuse', participant: 35 }],
  ['end', { type: 'end' }],
  ['media-publish', { type: 'media.publish', sdp: SDP, ref: 'media:pub:1' }],
  ['media-echo', { type: 'media.echo', sdp: SDP, ref: 'media:echo:2' }],
  ['media-subscribe', { type: 'media.subscribe', ref: 'media:sub:3' }],
  ['media-answer', { type: 'media.answer', conn: 'sub', version: 3, sdp: SDP, ref: 'media:sub:3' }],
  ['media-candidate', { type: 'media.candidate', conn: 'pub', candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host' }],
  ['media-candidate-end', { type: 'media.candidate', conn: 'echo', candidate: '' }],
  ['media-close', { type: 'media.close', conn: 'sub' }],
  ['unknown-fields', { type: 'chat', text: 'hi', client: { v: [1, 2.5, null, true] } }],
  // broken ones
  ['bad-json', '{"type": "ping"'],
  ['bad-duplicate', '{"type":"chat","text":"a","text":"b"}'],
  ['bad-array', '[{"type":"ping"}]'],
  ['bad-no-type', { text: 'hallo' }],
  ['bad-type-number', { type: 7 }],
  ['bad-unknown-type', { type: 'no-such-type', ref: 'r1' }],
  ['bad-chat-long', { type: 'chat', text: 'x'.repeat(2001) }],
  ['bad-name-ctrl', { type: 'name', display_name: 'An\nna' }],
  ['bad-consent-types', { type: 'consent', accept: 'yes', version: 1.5 }],
  ['bad-watch-zero', { type: 'watch', consult: 0 }],
  ['bad-conn', { type: 'media.close', conn: 'nope' }],
  ['bad-ref', { type: 'ping', ref: 'r'.repeat(65) }],
  ['bad-deep', `{"type":"ping","x":${nest(20)}}`],
  ['bad-nul', '{"type":"chat","text":"a\\u0000b"}'],
];

// ---- API bodies: [name, method, pattern, body (object or raw string)]
const api = [
  ['signin', 'POST', '/api/v1/auth/signin', { email: 'dr.jansen@praktijk.example', password: 'correct horse battery' }],
  ['totp', 'POST', '/api/v1/auth/totp', { code: '123456' }],
  ['totp-recovery', 'POST', '/api/v1/auth/totp', { recovery_code: 'abcd-efgh-ijkl' }],
  ['enrol-start', 'POST', '/api/v1/auth/enrol/start', { password: 'correct horse battery' }],
  ['enrol-confirm', 'POST', '/api/v1/auth/enrol/confirm', { code: '123456' }],
  ['setup-check', 'POST', '/api/v1/auth/setup/check', { token: TOKEN }],
  ['setup', 'POST', '/api/v1/auth/setup', { token: TOKEN, password: 'a new long password' }],
  ['signout', 'POST', '/api/v1/auth/signout', {}],
  ['password', 'POST', '/api/v1/auth/password', { current: 'old password', new: 'new password!' }],
  ['consent-text', 'PUT', '/api/v1/admin/consent', { nl: 'Ik geef toestemming.', en: 'I consent.\nThank you.' }],
  ['user-new', 'POST', '/api/v1/admin/users', { email: 'nieuw@praktijk.example', role: 'clinician' }],
  ['user-patch', 'PATCH', '/api/v1/admin/users/{id}', { role: 'admin' }],
  ['user-disable', 'POST', '/api/v1/admin/users/{id}/disable', {}],
  ['user-enable', 'POST', '/api/v1/admin/users/{id}/enable', {}],
  ['user-reset-2fa', 'POST', '/api/v1/admin/users/{id}/reset-2fa', {}],
  ['user-setup-link', 'POST', '/api/v1/admin/users/{id}/setup-link', {}],
  ['policy', 'PUT', '/api/v1/admin/policy', { idle_timeout_min: 20, require_2fa: true, consult_max_hours: 4, colleagues_wait: 0 }],
  ['participant-cookie', 'POST', '/api/v1/participant/cookie', { resume: TOKEN }],
  ['consult', 'POST', '/api/v1/consults', {
    label: 'controle', starts_at: 1795000000, expires_at: 1795003600,
    invitees: [{ email: 'patient@mail.example', kind: 'patient' }, { email: 'collega@zkh.example', kind: 'colleague' }],
  }],
  ['consult-end', 'POST', '/api/v1/consults/{id}/end', {}],
  ['invitation-resend', 'POST', '/api/v1/invitations/{id}/resend', {}],
  ['invitation-revoke', 'POST', '/api/v1/invitations/{id}/revoke', {}],
  ['test-probe', 'POST', '/api/v1/test/probe', { key: 'k1', value: 'v1' }],
  ['test-clock', 'POST', '/api/v1/test/clock', { advance: 3600 }],
  ['test-retention', 'POST', '/api/v1/test/retention', {}],
  ['test-expire', 'POST', '/api/v1/test/expire', {}],
  // broken ones
  ['bad-json', 'POST', '/api/v1/auth/signin', '{"email": '],
  ['bad-array', 'POST', '/api/v1/auth/signin', '[1,2]'],
  ['bad-duplicate', 'POST', '/api/v1/auth/signin', '{"email":"a@b.example","email":"c@d.example","password":"x"}'],
  ['bad-signin-type', 'POST', '/api/v1/auth/signin', { email: 7, password: ['x'] }],
  ['bad-consult-invitee', 'POST', '/api/v1/consults', { starts_at: 1, expires_at: 2, invitees: [{ email: 'p@m.example', kind: 'doctor' }] }],
  ['bad-consult-many', 'POST', '/api/v1/consults', { starts_at: 1, expires_at: 2, invitees: Array(9).fill({ email: 'p@m.example', kind: 'patient' }) }],
  ['bad-policy', 'PUT', '/api/v1/admin/policy', { min_password_len: true, no_such: 1 }],
  ['bad-role', 'POST', '/api/v1/admin/users', { email: 'a@b.example', role: 'root' }],
  ['bad-deep', 'POST', '/api/v1/auth/signout', `{"x":${nest(20)}}`],
];

// The route order of signaling/schema.c's api_bodies table.
const METHODS = { KM_POST: 'POST', KM_PUT: 'PUT', KM_PATCH: 'PATCH' };
const src = fs.readFileSync(path.join(root, 'signaling/schema.c'), 'utf8');
const table = src.slice(src.indexOf('api_bodies[] = {'));
const routes = [...table.slice(0, table.indexOf('};')).matchAll(/\{ (KM_[A-Z]+), "([^"]+)"/g)]
  .map((m) => `${METHODS[m[1]]} ${m[2]}`);
if (routes.length === 0 || routes.length > 255) throw new Error('cannot read the api_bodies table of signaling/schema.c');
for (const r of routes) {
  if (!api.some(([, m, p]) => `${m} ${p}` === r)) throw new Error(`no example body for ${r}`);
}

function write(dir, name, bytes) {
  fs.mkdirSync(path.join(corpus, dir), { recursive: true });
  fs.writeFileSync(path.join(corpus, dir, `seed-${name}`), bytes);
}
const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v));

for (const [name, msg] of ws) write('ws_msg', name, Buffer.from(text(msg), 'utf8'));
for (const [name, method, pattern, body] of api) {
  const i = routes.indexOf(`${method} ${pattern}`);
  if (i < 0) throw new Error(`${method} ${pattern} is not in signaling/schema.c`);
  write('api_body', name, Buffer.concat([Buffer.from([i]), Buffer.from(text(body), 'utf8')]));
}
// A body for a route without a schema (the harness's last route value).
write('api_body', 'no-schema', Buffer.concat([Buffer.from([routes.length]), Buffer.from('{"any":1}')]));
console.log(`gen_signaling_corpus: ${ws.length} WSS messages, ${api.length + 1} API bodies (${routes.length} routes)`);

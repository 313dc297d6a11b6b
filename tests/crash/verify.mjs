// verify.mjs — the crash test's checks. Two kinds:
//  - storeChecks: on the stopped (killed) server's data folder, read-only
//    with the sqlite3 CLI: the database is sound, and nothing is half there
//    (a consult without all its invitations, a user without a way to set a
//    password, a participant past a step whose record is missing ...).
//    It also counts rows without their audit row (a user, consult, consent
//    or admission committed, then the kill before its audit row's own
//    commit: the change happened and the audit log does not say so), and
//    "seams": harmless states a kill between two commits of one
//    unacknowledged request leaves (an invitation whose email was never
//    written, a consent recorded before the step to "name").
//  - apiCheck: on the restarted server, through the public API and WSS:
//    every acknowledged write of the given trials is there, whole.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { COOKIE } from '../integration/lib/client.mjs';
import { wsConnect } from '../integration/lib/ws.mjs';
import { probeGet } from './load.mjs';

export const HAS_SQLITE = spawnSync('sqlite3', ['-version']).status === 0;

// Set-based (NOT IN builds a temporary index), so that it stays fast as
// the database grows over hundreds of trials.
const STORE_QUERY = `SELECT json_object(
 'integrity', (SELECT group_concat(integrity_check, '; ') FROM pragma_integrity_check),
 'foreign_keys', (SELECT count(*) FROM pragma_foreign_key_check),
 'consults', (SELECT json_group_object(label, n) FROM (SELECT c.label, count(i.id) n FROM consults c
    LEFT JOIN invitations i ON i.consult_id = c.id GROUP BY c.id)),
 'open_without_key', (SELECT count(*) FROM consults WHERE ended_at = 0 AND room_key IS NULL),
 'invitation_without_token', (SELECT count(*) FROM invitations i JOIN consults c ON c.id = i.consult_id
    WHERE c.ended_at = 0 AND i.revoked = 0 AND (i.token_hash IS NULL OR i.email IS NULL)),
 'users', (SELECT json_group_array(email) FROM users),
 'user_without_credential', (SELECT count(*) FROM users WHERE pw_hash IS NULL
    AND id NOT IN (SELECT user_id FROM setup_links)),
 'participant_without_consent', (SELECT count(*) FROM participants WHERE kind = 'patient'
    AND state IN ('name', 'waiting', 'admitted') AND pseudonym NOT IN (SELECT pseudonym FROM consents WHERE given = 1)),
 'participant_without_name', (SELECT count(*) FROM participants WHERE state IN ('waiting', 'admitted') AND display_name IS NULL),
 'participant_without_joinlog', (SELECT count(*) FROM participants
    WHERE pseudonym NOT IN (SELECT pseudonym FROM calllog WHERE event = 'joined')),
 'participant_step_without_log', (SELECT count(*) FROM participants WHERE state IN ('name', 'waiting', 'admitted')
    AND pseudonym || '|' || state NOT IN (SELECT pseudonym || '|' || event FROM calllog)),
 'chat_rows', (SELECT json_group_object(consult_id, n) FROM (SELECT consult_id, count(*) n FROM chat GROUP BY consult_id)),
 'unaudited_user', (SELECT count(*) FROM users
    WHERE CAST(id AS TEXT) NOT IN (SELECT object_id FROM audit WHERE action = 'user.create')),
 'unaudited_consult', (SELECT count(*) FROM consults
    WHERE CAST(id AS TEXT) NOT IN (SELECT object_id FROM audit WHERE action = 'consult.create')),
 'seam_invitation_unsent', (SELECT count(*) FROM invitations WHERE sent_at = 0 AND send_error = ''),
 'unaudited_consent', (SELECT count(*) FROM consents WHERE given = 1
    AND pseudonym NOT IN (SELECT actor_id FROM audit WHERE action = 'consent.given')),
 'seam_consent_without_step', (SELECT count(*) FROM participants WHERE state = 'consent'
    AND pseudonym IN (SELECT pseudonym FROM consents WHERE given = 1)),
 'seam_name_without_step', (SELECT count(*) FROM participants WHERE state = 'name' AND display_name IS NOT NULL),
 'unaudited_admit', (SELECT count(*) FROM participants WHERE state = 'admitted'
    AND CAST(id AS TEXT) NOT IN (SELECT object_id FROM audit WHERE action = 'participant.admit'))
);`;

// sqlite's json_object embeds a nested JSON value as is, or as text.
const asJson = (v, empty) => (v == null ? empty : typeof v === 'string' ? JSON.parse(v) : v);

// Reads the stopped server's database (read-only). Returns {fail: [...],
// seams: {name: n}, chatRows: {consultId: n}} or null without sqlite3.
export function storeChecks(dataDir, ledger) {
  if (!HAS_SQLITE) return null;
  const r = spawnSync('sqlite3', ['-readonly', path.join(dataDir, 'kamer.db'), STORE_QUERY], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) return { fail: [`sqlite3 failed: ${r.stderr}`], seams: {}, chatRows: {} };
  const q = JSON.parse(r.stdout);
  const fail = [];
  if (q.integrity !== 'ok') fail.push(`integrity_check: ${q.integrity}`);
  if (q.foreign_keys) fail.push(`${q.foreign_keys} foreign key violations`);
  for (const key of ['open_without_key', 'invitation_without_token', 'user_without_credential', 'participant_without_consent',
    'participant_without_name', 'participant_without_joinlog', 'participant_step_without_log']) {
    if (q[key]) fail.push(`${key}: ${q[key]}`);
  }
  // A consult is there with every invitation it was created with, or not at all.
  for (const [label, n] of Object.entries(asJson(q.consults, {}))) {
    const want = ledger.consultTries.get(label);
    if (want === undefined) fail.push(`consult "${label}" was never created by this test`);
    else if (n !== want) fail.push(`consult "${label}" has ${n} of its ${want} invitations`);
  }
  for (const email of asJson(q.users, [])) {
    if (email.endsWith('@crash.example') && !ledger.userTries.has(email)) fail.push(`user ${email} was never created by this test`);
  }
  const seams = {}, unaudited = {};
  for (const [key, v] of Object.entries(q)) {
    if (key.startsWith('seam_')) seams[key.slice(5)] = v;
    if (key.startsWith('unaudited_')) unaudited[key.slice(10)] = v;
  }
  return { fail, seams, unaudited, chatRows: asJson(q.chat_rows, {}) };
}

// Pages through an admin list endpoint (audit or call log) from after,
// following next_after. Not "until a page is short": kamer 0.1 reads only
// the first query parameter (signaling/http.c), so "?after=N&limit=1000"
// gives pages of the default 100. Every audit page read appends its own
// audit.read row, so the audit log ends at the first page with nothing but
// reads.
const READS = new Set(['audit.read', 'calllog.read']);
async function pages(admin, what, after) {
  const rows = [];
  for (;;) {
    const r = await admin.get(`/api/v1/admin/${what}?after=${after}&limit=1000`);
    if (r.status !== 200) throw new Error(`GET /admin/${what}: ${r.status} ${r.body}`);
    rows.push(...r.json.rows);
    if (!r.json.rows.some((x) => !READS.has(x.action))) return rows;
    after = r.json.next_after;
  }
}

// Everything the org's audit log and call log say, read incrementally.
export class Logs {
  constructor() { this.audit = new Set(); this.calllog = new Set(); this.auditAfter = 0; this.logAfter = 0; }

  async refresh(admin) {
    for (const a of await pages(admin, 'audit', this.auditAfter)) {
      this.audit.add(`${a.action}|${a.object_id}`);
      this.audit.add(`${a.action}|actor:${a.actor_id}`);
      this.auditAfter = a.seq;
    }
    for (const l of await pages(admin, 'calllog', this.logAfter)) {
      this.calllog.add(`${l.event}|${l.pseudonym}`);
      this.logAfter = l.id;
    }
  }
}

const STATE_RANK = { consent: 0, name: 1, waiting: 2, admitted: 3 };
const ACK_RANK = { joined: 0, consent: 1, name: 2, admit: 3 };

// Checks every acknowledged write whose trial passes keep(trial) on the
// running server k. chatRows (from storeChecks, may be null) lets it check
// that every stored chat row of a consult is readable. Returns
// {missing: [...], checked: n, audited: n}.
export async function apiCheck({ k, ledger, logs, admin, docs, probeAgent, keep, chatRows }) {
  const missing = [];
  let checked = 0, audited = 0;
  const miss = (what) => missing.push(what);
  await logs.refresh(admin);
  const audit = (key, what) => {
    if (logs.audit.has(key)) audited++;
    else miss(`${what}: no audit row ${key} (audit read up to seq ${logs.auditAfter}, call log up to ${logs.logAfter})`);
  };

  // Accounts: in the admin's list, with every field as created.
  const users = await admin.get('/api/v1/admin/users');
  if (users.status !== 200) throw new Error(`GET /admin/users: ${users.status}`);
  const byId = new Map(users.json.users.map((u) => [u.id, u]));
  for (const [id, u] of ledger.users) {
    if (!keep(u.trial)) continue;
    checked++;
    const got = byId.get(id);
    if (!got || got.email !== u.email || got.role !== 'clinician' || got.disabled || got.has_password) miss(`user ${id} ${u.email}: ${JSON.stringify(got)}`);
    audit(`user.create|${id}`, `user ${id}`);
  }

  // Consults: in the clinician's list with all their invitations; then,
  // through a staff WSS, each participant's state and the chat history.
  const lists = [];
  for (const doc of docs) {
    const r = await doc.get('/api/v1/consults');
    if (r.status !== 200) throw new Error(`GET /consults: ${r.status}`);
    lists.push(new Map(r.json.consults.map((c) => [c.id, c])));
  }
  const staff = [];
  try {
    for (const [id, c] of ledger.consults) {
      if (!keep(c.trial)) continue;
      checked++;
      const got = lists[c.doc].get(id);
      const emails = got ? got.invitations.map((i) => i.email).sort() : [];
      if (!got || got.label !== c.label || got.ended || JSON.stringify(emails) !== JSON.stringify([...c.emails].sort()) ||
        !got.invitations.every((i) => i.sent && i.kind === 'patient')) {
        miss(`consult ${id} ${c.label}: ${JSON.stringify(got)}`);
        continue;
      }
      audit(`consult.create|${id}`, `consult ${id}`);
      if (!c.parts.length && !c.chats.length) continue;
      if (!staff[c.doc]) {
        staff[c.doc] = await wsConnect(k, { cookie: `${COOKIE}=${docs[c.doc].cookie}` });
        staff[c.doc].on('error', () => {});
      }
      // Within kamer's message rate (50 a second per connection): a refusal
      // for the rate is waited out, not counted.
      let room;
      for (let tries = 0; tries < 10; tries++) {
        room = await staff[c.doc].request({ type: 'watch', consult: id }, 'room');
        if (room.type !== 'error' || room.code !== 'rate_limited') break;
        await new Promise((r) => setTimeout(r, 1100));
      }
      await new Promise((r) => setTimeout(r, 25));
      if (room.type !== 'room') { miss(`consult ${id}: watch: ${JSON.stringify(room)}`); continue; }
      const parts = new Map(room.participants.map((p) => [p.pseudonym, p]));
      for (const p of c.parts) {
        checked += ACK_RANK[p.acked] + 1;
        const got2 = parts.get(p.pseudonym);
        const want = { joined: 'consent', consent: 'name', name: 'waiting', admit: 'admitted' }[p.acked];
        if (!got2 || !(STATE_RANK[got2.state] >= STATE_RANK[want])) { miss(`participant ${p.pseudonym} acked ${p.acked}: ${JSON.stringify(got2)}`); continue; }
        if (ACK_RANK[p.acked] >= ACK_RANK.name && got2.name !== p.name) miss(`participant ${p.pseudonym}: name ${JSON.stringify(got2.name)}`);
        if (!logs.calllog.has(`joined|${p.pseudonym}`)) miss(`participant ${p.pseudonym}: no "joined" in the call log`);
        if (ACK_RANK[p.acked] >= ACK_RANK.consent) audit(`consent.given|actor:${p.pseudonym}`, `consent of ${p.pseudonym}`);
        if (ACK_RANK[p.acked] >= ACK_RANK.name && !logs.calllog.has(`waiting|${p.pseudonym}`)) miss(`participant ${p.pseudonym}: no "waiting" in the call log`);
        if (p.acked === 'admit') {
          audit(`participant.admit|${got2.id}`, `admission of ${p.pseudonym}`);
          if (!logs.calllog.has(`admitted|${p.pseudonym}`)) miss(`participant ${p.pseudonym}: no "admitted" in the call log`);
        }
      }
      const texts = new Set(room.chat.map((m) => m.text));
      for (const t of c.chats) {
        checked++;
        if (!texts.has(t)) miss(`consult ${id}: chat "${t}" lost`);
      }
      // Every stored row is readable (a torn or half-written row would be skipped).
      if (chatRows && (chatRows[id] || 0) !== room.chat.length) miss(`consult ${id}: ${chatRows[id] || 0} chat rows stored, ${room.chat.length} readable`);
    }
  } finally {
    for (const ws of staff) if (ws) ws.terminate();
  }

  for (const [key, p] of ledger.probes) {
    if (!keep(p.trial)) continue;
    checked++;
    const v = await probeGet(k, probeAgent, key);
    if (v !== p.value) miss(`probe ${key}: ${v}`);
  }
  return { missing, checked, audited };
}

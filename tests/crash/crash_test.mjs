// crash_test.mjs — kill -9 at random moments under a mixed write load
// (accounts, consults, patients joining and consenting over WSS, admission,
// chat both ways, test probes; see load.mjs). After each kill:
//   1. `kamer audit verify` on the dead server's data folder must pass;
//   2. the database, read-only with sqlite3, must be sound and hold nothing
//      half-written (verify.mjs storeChecks);
//   3. kamer restarts on the same folder and every write it acknowledged in
//      that trial must be there, whole, through the API and WSS (apiCheck).
// At the end every acknowledged write of every trial is checked again.
// Trials: CRASH_TRIALS (default 100; `make crashtest` runs 1000). The run
// stops starting trials after CRASH_BUDGET_S seconds (default 3 s a trial,
// at least 300 s) and fails if it could not run them all.
import assert from 'node:assert/strict';
import https from 'node:https';
import { runCli, startKamer, tempDir } from '../integration/lib/kamer.mjs';
import { KINDS, Ledger, Outbox, signUp, startLoad } from './load.mjs';
import { HAS_SQLITE, Logs, apiCheck, storeChecks } from './verify.mjs';

const trials = Number(process.env.CRASH_TRIALS || 100);
const budgetS = Number(process.env.CRASH_BUDGET_S || Math.max(300, trials * 3));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const env = { KAMER_HTTP_RATE_PER_SEC: '100000', KAMER_HTTP_RATE_BURST: '100000' };

// When to kill, in ms after the server answered /healthz: one trial in six
// in the first 30 ms (while the writers are still connecting), the rest
// spread over 30-900 ms.
const killDelay = () => (Math.random() < 1 / 6 ? Math.floor(Math.random() * 30) : 30 + Math.floor(Math.random() * 870));

const ledger = new Ledger();
const dataDir = tempDir('kamer-crash-');
let k = await startKamer({ dataDir, env }); // makes the development CA once; later starts reuse it
const org = runCli(['admin', 'org', 'create', 'Crash', '--data', dataDir]);
assert.equal(org.status, 0, `${org.stdout}${org.stderr}`);
const add = runCli(['admin', 'user', 'add', '--org', 'Crash', '--role', 'admin', '--email', 'admin@crash.example', '--data', dataDir],
  { KAMER_LISTEN: `127.0.0.1:${k.port}` });
assert.equal(add.status, 0, add.stderr);
ledger.userTries.add('admin@crash.example');
const admin = await signUp(k, add.stdout.match(/#([A-Za-z0-9_-]{43})/)[1], 'admin@crash.example');
const docs = [];
for (const email of ['dr.a@crash.example', 'dr.b@crash.example']) {
  ledger.userTries.add(email);
  const r = await admin.post('/api/v1/admin/users', { email, role: 'clinician' });
  assert.equal(r.status, 201, r.body);
  docs.push(await signUp(k, r.json.setup_link.split('#')[1], email));
}

const logs = new Logs();
const outbox = new Outbox(dataDir);
const failures = [];
const seams = {};
const unaudited = {};
const UNAUDITED = { user: 'user.create', consult: 'consult.create', consent: 'consent.given', admit: 'participant.admit' };
let auditOk = 0, auditRuns = 0, lost = 0, done = 0;
const newWindow = (from) => ({ from, kills: [], acked: { ...ledger.counts }, lost: 0, auditOk: 0, failedBefore: failures.length });
let window = newWindow(1);

// `kamer audit verify` on the data folder of a stopped server.
function auditVerify(when) {
  auditRuns++;
  const r = runCli(['audit', 'verify', '--data', dataDir]);
  if (r.status === 0 && /audit log intact/.test(r.stdout)) { auditOk++; return true; }
  failures.push(`${when}: audit verify failed (${r.status}): ${r.stdout}${r.stderr}`);
  return false;
}

function storeCheck(when) {
  const sc = storeChecks(dataDir, ledger);
  if (!sc) return null;
  for (const f of sc.fail) failures.push(`${when}: half-there: ${f}`);
  for (const [key, n] of Object.entries(sc.seams)) seams[key] = n;
  // Counts are of the whole database: report each new one once.
  for (const [key, n] of Object.entries(sc.unaudited)) {
    if (n > (unaudited[key] || 0)) failures.push(`${when}: half-there: ${n - (unaudited[key] || 0)} more ${key} row(s) without their ${UNAUDITED[key]} audit row`);
    unaudited[key] = n;
  }
  return sc;
}

const ackLine = (a, b = {}) => KINDS.map((kind) => `${kind} ${a[kind] - (b[kind] || 0)}`).join(', ');

async function restart() {
  k = await startKamer({ dataDir, port: k.port, env });
  for (const c of [admin, ...docs]) c.k = k;
}

try {
  for (let trial = 1; trial <= trials; trial++) {
    if ((Date.now() - t0) / 1000 > budgetS) {
      failures.push(`time budget of ${budgetS} s spent after ${done} of ${trials} trials`);
      break;
    }
    const failedBefore = failures.length;
    const probeAgent = new https.Agent({ keepAlive: true, maxSockets: 2 });
    const delay = killDelay();
    const load = startLoad({ k, trial, ledger, outbox, admin, docs, probeAgent });
    await sleep(delay);
    process.kill(k.pid, 'SIGKILL');
    load.stop();
    await load.done;
    probeAgent.destroy();
    await k.stop('SIGKILL');
    window.kills.push(delay);
    const tv = Date.now();
    const auditGood = auditVerify(`trial ${trial}`);
    if (auditGood) window.auditOk++;
    const ts = Date.now();
    const sc = storeCheck(`trial ${trial}`);
    const tr = Date.now();
    await restart();
    const ta = Date.now();
    const vAgent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const res = await apiCheck({ k, ledger, logs, admin, docs, probeAgent: vAgent, keep: (t) => t === trial, chatRows: sc && sc.chatRows });
    vAgent.destroy();
    if (process.env.CRASH_TIMING) console.log(`trial ${trial}: kill ${delay} audit ${ts - tv} sqlite ${tr - ts} start ${ta - tr} check ${Date.now() - ta} ms`);
    lost += res.missing.length;
    window.lost += res.missing.length;
    for (const m of res.missing) failures.push(`trial ${trial}: lost: ${m}`);
    for (const p of ledger.problems.splice(0)) failures.push(p);
    done = trial;
    for (const f of failures.slice(failedBefore)) console.log(`FAIL ${f}`);
    if (trial % 10 === 0 || trial === trials) {
      const n = trial - window.from + 1;
      console.log(`trials ${window.from}-${trial}: killed at ${Math.min(...window.kills)}-${Math.max(...window.kills)} ms; ` +
        `acknowledged ${ackLine(ledger.counts, window.acked)}; lost ${window.lost}; audit verify ok ${window.auditOk}/${n}; ` +
        `half-there ${failures.slice(window.failedBefore).filter((f) => f.includes('half-there')).length}; ` +
        `${((Date.now() - t0) / 1000).toFixed(0)} s`);
      window = newWindow(trial + 1);
    }
  }

  // Everything again, after a clean stop and one more restart.
  await k.stop();
  auditVerify('final');
  const sc = storeCheck('final');
  await restart();
  const vAgent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const all = await apiCheck({ k, ledger, logs, admin, docs, probeAgent: vAgent, keep: () => true, chatRows: sc && sc.chatRows });
  vAgent.destroy();
  lost += all.missing.length;
  for (const m of all.missing) failures.push(`final: lost: ${m}`);
  for (const p of ledger.problems.splice(0)) failures.push(p);
  const total = KINDS.reduce((s, kind) => s + ledger.counts[kind], 0);
  console.log(`crash test: ${done} kill -9 trials in ${((Date.now() - t0) / 1000).toFixed(0)} s; ` +
    `acknowledged writes ${total} (${ackLine(ledger.counts)}; audit rows checked ${all.audited}); ` +
    `lost ${lost}; audit verify ok ${auditOk}/${auditRuns}; half-there ${HAS_SQLITE ? failures.filter((f) => f.includes('half-there')).length : 'not checked (no sqlite3)'}; ` +
    `without audit row ${JSON.stringify(unaudited)}; other unacknowledged seams ${JSON.stringify(seams)}`);
} finally {
  await k.stop();
}
for (const f of failures.slice(0, 40)) console.log(`FAIL ${f}`); // again, together
assert.deepEqual(failures, [], `${failures.length} failures`);
assert.ok(ledger.counts.probe + ledger.counts.account > 0, 'the load must actually have written');
if (done >= 10) assert.ok(ledger.counts.consult > 0 && ledger.counts.chat > 0 && ledger.counts.account > 0, 'every kind of write was made');

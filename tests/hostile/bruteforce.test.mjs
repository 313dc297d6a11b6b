// bruteforce.test.mjs — password guessing against one account, bounded.
// kamer's rules (docs/security.md, signaling/api_auth.c, throttle.c,
// device.c): failed sign-ins are throttled per address and per
// account+address (three free, then 1, 2, 4 ... 60 s between attempts; a
// refused attempt is answered 429 before any password is checked); each
// account has a budget of password checks (at most 100 an hour: 20 + 60 an
// hour for browsers without the account's device mark, 10 + 10 for those
// with it); the org's lockout_failures (default 10) failed checks lock the
// account for lockout_minutes (default 15) for browsers without the mark,
// during which even the right password gets the same 401. Measured here:
// 300 guesses from one address and 10,000 from eight in real time; a whole
// hour of guessing at the
// fastest pace kamer allows (kamer's test clock moved by each Retry-After)
// from one address and from five in turn, with the default policy and with
// the most lenient one an admin can set; how many passwords were actually
// checked (from the audit log: reason=bad_password) against the promise
// "at most 100 password attempts per account per hour are even evaluated";
// and that other addresses and other accounts are not locked out, and that
// the user's own browser gets in during the attack.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startKamer } from '../integration/lib/kamer.mjs';
import { totp } from '../integration/lib/client.mjs';
import { advance, cli, closeClock, makeOrg, nowOf, onboard, PASSWORD, sql } from './lib/flow.mjs';
import { AddrClient } from './lib/net.mjs';

const VICTIM = 'dr.victim@praktijk-bf.example';
const OTHER = 'dr.other@praktijk-bf.example';
let k, victim, other;

// Audit counts for one user's failed sign-ins, by reason (a wrong password
// is audited as bad_password whether or not the account is locked; the
// right one during a lockout as locked), lockouts, and the account's
// failed_count (the checks that count towards the next lockout).
function auditOf(email) {
  const id = sql(k, `SELECT id FROM users WHERE email = '${email}'`);
  const out = { bad_password: 0, locked: 0, lockouts: 0 };
  out.failed_count = Number(sql(k, `SELECT failed_count FROM users WHERE id = ${id}`));
  for (const line of sql(k, `SELECT detail, count(*) FROM audit WHERE action = 'signin' AND outcome = 'failure' AND object_id = '${id}' GROUP BY detail`).split('\n')) {
    const m = line.match(/reason=(\w+)\|(\d+)$/);
    if (m) out[m[1]] = Number(m[2]);
  }
  out.lockouts = Number(sql(k, `SELECT count(*) FROM audit WHERE action = 'signin.lockout' AND object_id = '${id}'`));
  return out;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const delta = (a, b) => Object.fromEntries(Object.keys(b).map((x) => [x, b[x] - (a[x] || 0)]));

// The most password checks kamer's throttle allows for one key in `seconds`
// from a clean start. Three failures are free, so the fourth attempt comes
// at once; its failure starts the delays 1, 2, 4 ... 60 s (throttle.c and
// tests/unit/signaling/throttle_test.c; throttle.h's comment has the wait
// start after the third).
function throttleAllows(seconds) {
  let n = 4, t = 0;
  for (let d = 1; ; d = Math.min(d * 2, 60)) {
    t += d;
    if (t > seconds) return n;
    n++;
  }
}

// Guesses at the fastest pace kamer allows for `hour` seconds of kamer's
// clock: each 429 moves the clock by its Retry-After. The attacker keeps
// one connection open (as a browser does). Returns the tally.
async function guessFor(attacker, email, hour) {
  const tally = { attempts: 0, 401: 0, too_many_attempts: 0, rate_limited: 0, other: 0 };
  let simulated = 0;
  for (let i = 0; simulated < hour && i < 2000; i++) {
    await sleep(25); // under the request rate limit (50 per second per address)
    const r = await attacker.post('/api/v1/auth/signin', { email, password: `hourly guess ${i}` });
    tally.attempts++;
    if (r.status === 401) tally[401]++;
    else if (r.status === 429 && r.json.error.code === 'rate_limited') {
      tally.rate_limited++; // the request rate, in real time: wait it out
      await sleep(1000 * Number(r.headers['retry-after']));
    } else if (r.status === 429) {
      tally[r.json.error.code] = (tally[r.json.error.code] || 0) + 1;
      const wait = Number(r.headers['retry-after']);
      assert.ok(wait > 0, 'a 429 says how long to wait');
      await advance(k, wait);
      simulated += wait;
    } else tally.other++;
  }
  assert.equal(tally.other, 0, JSON.stringify(tally));
  tally.simulated_s = simulated;
  return tally;
}

// The user's own browser (their device mark) on another network.
function ownBrowser(user, addr) {
  const c = new AddrClient(k, addr);
  const mark = user.c.jar.get('__Host-kamer_device');
  assert.ok(mark, 'onboarding left a device mark');
  c.jar.set('__Host-kamer_device', mark);
  return c;
}

// Guessing from several addresses in turn, each at the fastest pace kamer
// allows it, for `hour` seconds of kamer's clock. Returns the tally.
async function guessMany(attackers, email, hour) {
  const tally = { attempts: 0, 401: 0, too_many_attempts: 0, rate_limited: 0, other: 0 };
  const t0 = nowOf(k);
  const next = new Map(attackers.map((a) => [a, t0]));
  for (let i = 0; nowOf(k) - t0 < hour && i < 3000; i++) {
    const t = nowOf(k);
    const ready = attackers.find((a) => next.get(a) <= t);
    if (!ready) {
      await advance(k, Math.min(...next.values()) - t);
      continue;
    }
    await sleep(25);
    const r = await ready.post('/api/v1/auth/signin', { email, password: `spread guess ${i}` });
    tally.attempts++;
    if (r.status === 401) tally[401]++;
    else if (r.status === 429 && r.json.error.code === 'rate_limited') {
      tally.rate_limited++;
      await sleep(1000 * Number(r.headers['retry-after']));
    } else if (r.status === 429) {
      tally.too_many_attempts++;
      next.set(ready, nowOf(k) + Number(r.headers['retry-after']));
    } else tally.other++;
  }
  assert.equal(tally.other, 0, JSON.stringify(tally));
  tally.simulated_s = nowOf(k) - t0;
  return tally;
}

describe('password guessing', () => {
  before(async () => {
    k = await startKamer();
    makeOrg(k, 'Praktijk BF');
    victim = await onboard(k, { org: 'Praktijk BF', email: VICTIM });
    other = await onboard(k, { org: 'Praktijk BF', email: OTHER });
  });
  after(async () => {
    if (!k) return;
    closeClock(k);
    await k.stop();
  });

  test('300 wrong passwords from one address: refused early; other addresses and accounts unaffected', { timeout: 120000 }, async () => {
    const attacker = new AddrClient(k, '127.0.0.1');
    const a0 = auditOf(VICTIM);
    const tally = { 401: 0, too_many_attempts: 0, rate_limited: 0 };
    const t0 = Date.now();
    let attempts = 0;
    for (; attempts < 300 && Date.now() - t0 < 50000; attempts++) {
      const r = await attacker.post('/api/v1/auth/signin', { email: VICTIM, password: `guess number ${attempts}` });
      if (r.status === 401) {
        tally[401]++;
        assert.equal(r.json.error.code, 'signin_failed');
      } else {
        assert.equal(r.status, 429, r.body);
        assert.ok(Number(r.headers['retry-after']) > 0, 'Retry-After');
        tally[r.json.error.code] = (tally[r.json.error.code] || 0) + 1;
      }
    }
    const seconds = (Date.now() - t0) / 1000;
    const d = delta(a0, auditOf(VICTIM));
    const allowed = throttleAllows(Math.ceil(seconds) + 1);
    console.log(`${attempts} guesses in ${seconds.toFixed(1)} s from 127.0.0.1: ${tally[401]} answered 401 ` +
      `(passwords checked: ${d.bad_password}, refused as locked: ${d.locked}), refused unchecked: ` +
      `${tally.too_many_attempts} too_many_attempts + ${tally.rate_limited} rate_limited; the throttle allows ${allowed} in that time`);
    assert.ok(attempts >= 250, `at least 250 guesses were made (${attempts})`);
    assert.equal(d.bad_password + d.locked, tally[401], 'every 401 is an audited sign-in failure');
    assert.ok(d.bad_password <= allowed, `${d.bad_password} passwords checked, the throttle allows ${allowed}`);
    assert.equal(tally.too_many_attempts + tally.rate_limited + tally[401], attempts);
    assert.ok(tally.too_many_attempts >= attempts - allowed - tally.rate_limited, 'the rest were refused before any check');
    // The refusals show in the audit log once per run of them, not once per try.
    const throttledRows = Number(sql(k, "SELECT count(*) FROM audit WHERE action = 'signin.throttled'"));
    console.log(`audit rows for ${tally.too_many_attempts} refusals: ${throttledRows} signin.throttled`);
    assert.ok(throttledRows >= 1, 'the throttling is audited');
    assert.ok(throttledRows <= tally[401] + 2, `one row per run of refusals (${throttledRows} for ${tally[401]} failures)`);

    // Another address, another account: in at once.
    const legit = new AddrClient(k, '127.0.0.2');
    let r = await legit.post('/api/v1/auth/signin', { email: OTHER, password: PASSWORD });
    assert.equal(r.status, 200, `another address signs in to another account: ${r.body}`);
    assert.equal(r.json.next, 'totp');
    // The attacking address is delayed for every account (if its last delay
    // has just run out, one more wrong guess starts the next one).
    r = await attacker.post('/api/v1/auth/signin', { email: OTHER, password: 'one more guess' });
    if (r.status === 401) r = await attacker.post('/api/v1/auth/signin', { email: OTHER, password: PASSWORD });
    assert.equal(r.status, 429, 'the attacking address is delayed for other accounts too');
    // ...but the attacked account is not delayed for other addresses: a
    // stranger's browser there is refused only if the attack locked the
    // account, and the user's own browser (the device mark) gets in.
    const locked = Number(sql(k, `SELECT locked_until FROM users WHERE email = '${VICTIM}'`)) > nowOf(k);
    r = await new AddrClient(k, '127.0.0.2').post('/api/v1/auth/signin', { email: VICTIM, password: PASSWORD });
    console.log(`the right password for the attacked account from 127.0.0.2: a new browser ${r.status} ${r.json.error?.code || ''} ` +
      `(account locked: ${locked})`);
    assert.equal(r.status, locked ? 401 : 200, r.body);
    r = await ownBrowser(victim, '127.0.0.2').post('/api/v1/auth/signin', { email: VICTIM, password: PASSWORD });
    console.log(`the user's own browser from 127.0.0.2: ${r.status} ${r.json.next || r.json.error?.code}`);
    assert.equal(r.status, 200, `the user's own browser signs in during the attack: ${r.body}`);
    assert.equal(r.json.next, 'totp');
  });

  test('an hour of guessing at the fastest pace: at most 100 checked, lockout audited, the user gets back in', { timeout: 180000 }, async () => {
    const attacker = new AddrClient(k, '127.0.0.1', { keepAlive: true });
    const a0 = auditOf(VICTIM);
    const tally = await guessFor(attacker, VICTIM, 3600);
    const d = delta(a0, auditOf(VICTIM));
    // Checks that could have let the right password in: those counted
    // towards a lockout (10 per lockout, plus the current count).
    const effective = 10 * d.lockouts + d.failed_count;
    console.log(`one hour (kamer's clock) of guessing one account, default policy (10 failures lock for 15 min): ${tally.attempts} tries; ` +
      `${d.bad_password} passwords evaluated (scrypt), of which ${effective} while the account was open (the rest during lockouts, ` +
      `refused whatever the password); ${tally.too_many_attempts} refused unchecked (429 too_many_attempts), ` +
      `${tally.rate_limited} request-rate 429s; ${d.lockouts} lockouts audited`);
    assert.ok(d.bad_password <= 100, `at most 100 passwords evaluated per account per hour (${d.bad_password})`);
    assert.ok(effective <= d.bad_password && effective <= 100, `at most 100 that could have succeeded (${effective})`);
    assert.ok(d.lockouts >= 1, 'the lockout is audited');

    // Lock it (if the hour ended between lockouts), then the right password
    // from another address gets the same 401 while it lasts.
    const lockedUntil = () => Number(sql(k, `SELECT locked_until FROM users WHERE email = '${VICTIM}'`));
    for (let i = 0; i < 30 && lockedUntil() <= nowOf(k); i++) {
      const r = await attacker.post('/api/v1/auth/signin', { email: VICTIM, password: `lock it ${i}` });
      if (r.status === 429) await advance(k, Number(r.headers['retry-after']));
    }
    assert.ok(lockedUntil() > nowOf(k), 'the account is locked');
    const user = new AddrClient(k, '127.0.0.2');
    let r;
    for (let i = 0; i < 5; i++) {
      r = await user.post('/api/v1/auth/signin', { email: VICTIM, password: PASSWORD });
      if (r.status !== 429) break;
      await advance(k, Number(r.headers['retry-after']));
    }
    assert.ok(lockedUntil() > nowOf(k), 'still locked when the user tried');
    assert.equal(r.status, 401, 'locked: the right password gets the same answer as a wrong one');
    assert.equal(r.json.error.code, 'signin_failed');
    // The user's own browser is not locked out by strangers.
    const own = ownBrowser(victim, '127.0.0.3');
    r = await own.post('/api/v1/auth/signin', { email: VICTIM, password: PASSWORD });
    assert.equal(r.status, 200, `the user's own browser during the lockout: ${r.body}`);
    await advance(k, 31); // a fresh TOTP step
    r = await own.post('/api/v1/auth/totp', { code: totp(victim.secret, nowOf(k)) });
    assert.equal(r.status, 200, r.body);
    assert.ok(lockedUntil() > nowOf(k), 'still locked for strangers');

    // After the lockout (15 minutes) and the throttle's delay: in again, from another address.
    await advance(k, lockedUntil() - nowOf(k) + 61);
    r = await user.post('/api/v1/auth/signin', { email: VICTIM, password: PASSWORD });
    assert.equal(r.status, 200, `the user signs in after the lockout: ${r.body}`);
    r = await user.post('/api/v1/auth/totp', { code: totp(victim.secret, nowOf(k)) });
    assert.equal(r.status, 200, r.body);
    assert.equal((await user.get('/api/v1/auth/me')).json.stage, 'full');
    attacker.close();
  });

  test('with the most lenient policy an admin may set, still at most 100 checked per hour', { timeout: 180000 }, async () => {
    makeOrg(k, 'Praktijk Soepel');
    const email = 'dr.lenient@praktijk-soepel.example';
    await onboard(k, { org: 'Praktijk Soepel', email, from: '127.0.0.4' });
    // The policy's limits (rooms/accounts.c): lockout_failures 3..100, lockout_minutes 1..1440.
    cli(k, ['admin', 'org', 'policy', 'Praktijk Soepel', '--set', 'lockout_failures=100', '--set', 'lockout_minutes=1']);
    const a0 = auditOf(email);
    const attacker = new AddrClient(k, '127.0.0.4', { keepAlive: true });
    const tally = await guessFor(attacker, email, 3600);
    attacker.close();
    const d = delta(a0, auditOf(email));
    console.log(`one hour of guessing, lockout_failures=100 lockout_minutes=1: ${tally.attempts} tries, ${d.bad_password} passwords evaluated, ` +
      `${tally.too_many_attempts} refused unchecked, ${d.lockouts} lockouts; the throttle allows ${throttleAllows(3600)}`);
    assert.ok(d.bad_password <= 100, `at most 100 passwords evaluated per account per hour (${d.bad_password})`);
    assert.ok(d.bad_password <= throttleAllows(3600), `the per-account throttle allows ${throttleAllows(3600)} in an hour; ` +
      `kamer evaluated ${d.bad_password}`);
  });
  test('five addresses guessing in turn for an hour: at most 100 checked; the own browser gets in at once', { timeout: 240000 }, async () => {
    makeOrg(k, 'Praktijk Verspreid');
    const email = 'dr.spread@praktijk-verspreid.example';
    const user = await onboard(k, { org: 'Praktijk Verspreid', email, from: '127.0.0.10' });
    const a0 = auditOf(email);
    const attackers = [5, 6, 7, 8, 9].map((n) => new AddrClient(k, `127.0.0.${n}`, { keepAlive: true }));
    const tally = await guessMany(attackers, email, 3600);
    attackers.forEach((a) => a.close());
    const d = delta(a0, auditOf(email));
    console.log(`one hour of guessing from 5 addresses in turn: ${tally.attempts} tries, ${d.bad_password} passwords evaluated, ` +
      `${tally.too_many_attempts} refused unchecked, ${d.lockouts} lockouts, ${tally.simulated_s} s of kamer's clock`);
    assert.ok(tally.simulated_s >= 3600);
    assert.ok(d.bad_password <= 100, `at most 100 passwords evaluated per account per hour (${d.bad_password})`);
    assert.ok(d.bad_password >= 20, `the attack did reach the account (${d.bad_password} checked)`);
    const own = ownBrowser(user, '127.0.0.11');
    let r = await own.post('/api/v1/auth/signin', { email, password: PASSWORD });
    assert.equal(r.status, 200, `the user's own browser signs in during the attack: ${r.body}`);
    await advance(k, 31);
    r = await own.post('/api/v1/auth/totp', { code: totp(user.secret, nowOf(k)) });
    assert.equal(r.status, 200, r.body);
  });
  test('10,000 wrong passwords from eight addresses at once: a handful checked, the user still gets in', { timeout: 240000 }, async () => {
    makeOrg(k, 'Praktijk Storm');
    const email = 'dr.storm@praktijk-storm.example';
    const user = await onboard(k, { org: 'Praktijk Storm', email, from: '127.0.0.30' });
    const a0 = auditOf(email);
    const TOTAL = 10000, ADDRS = 8;
    const tally = { 401: 0, too_many_attempts: 0, rate_limited: 0, other: 0 };
    const t0 = Date.now();
    let sent = 0;
    // Each address at 40 requests a second (under the request rate limit).
    await Promise.all(Array.from({ length: ADDRS }, async (_, n) => {
      const a = new AddrClient(k, `127.0.0.${20 + n}`, { keepAlive: true });
      for (let i = 0; sent < TOTAL && Date.now() - t0 < 150000; i++) {
        sent++;
        const r = await a.post('/api/v1/auth/signin', { email, password: `storm ${n}-${i}` });
        const key = r.status === 401 ? 401 : r.status === 429 ? r.json.error.code : 'other';
        tally[key] = (tally[key] || 0) + 1;
        await sleep(Math.max(0, (i + 1) * 25 - (Date.now() - t0)));
      }
      a.close();
    }));
    const seconds = (Date.now() - t0) / 1000;
    const d = delta(a0, auditOf(email));
    console.log(`${sent} wrong passwords in ${seconds.toFixed(1)} s from ${ADDRS} addresses: ${JSON.stringify(tally)}; ` +
      `passwords checked: ${d.bad_password}, lockouts: ${d.lockouts}`);
    assert.equal(sent, TOTAL);
    assert.equal(tally.other, 0, JSON.stringify(tally));
    // The account's budget: 20 at once and 60 an hour, so a few in this time.
    const budget = 20 + Math.ceil(seconds * 60 / 3600);
    assert.ok(d.bad_password <= budget, `${d.bad_password} checked, the budget allows ${budget}`);
    assert.equal(d.bad_password + d.locked, tally[401], 'every 401 is an audited failure');
    // The user's own browser, from yet another address, is let in.
    const own = ownBrowser(user, '127.0.0.31');
    let r = await own.post('/api/v1/auth/signin', { email, password: PASSWORD });
    assert.equal(r.status, 200, `the user's own browser after the storm: ${r.body}`);
    await advance(k, 31);
    r = await own.post('/api/v1/auth/totp', { code: totp(user.secret, nowOf(k)) });
    assert.equal(r.status, 200, r.body);
  });
});

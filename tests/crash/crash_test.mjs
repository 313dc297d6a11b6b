// crash_test.mjs — kill -9 at random moments while writes are acknowledged
// in a loop; after each restart every acknowledged write must be there.
// Trials: CRASH_TRIALS (default 20). Bounded: each trial writes for at most
// 0.8 s and 3000 writes; the whole run is capped at 10 minutes.
import assert from 'node:assert/strict';
import https from 'node:https';
import { startKamer, tempDir } from '../integration/lib/kamer.mjs';

const trials = Number(process.env.CRASH_TRIALS || 20);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = Date.now() + 10 * 60 * 1000;

const dataDir = tempDir('kamer-crash-');
const acked = new Map();
const env = { KAMER_HTTP_RATE_PER_SEC: '100000', KAMER_HTTP_RATE_BURST: '100000' };
let k = await startKamer({ dataDir, env });
let seq = 0;
let lost = 0;
const PER_TRIAL_MAX = 3000; // acknowledged writes per trial, so the run stays short

function get(agent, key) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: k.port, method: 'GET', path: `/api/v1/test/probe/${key}`, ca: k.ca, servername: 'localhost', agent, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => { let v; try { v = JSON.parse(body).value; } catch { v = undefined; } resolve({ status: res.statusCode, value: v }); });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}
let writes = 0;

for (let trial = 1; trial <= trials && Date.now() < deadline; trial++) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  const killAt = Date.now() + 50 + Math.floor(Math.random() * 750);
  let stop = false;
  let trialAcked = 0;
  const writer = async () => {
    while (!stop && trialAcked < PER_TRIAL_MAX) {
      const key = `t${trial}-w${seq++}`;
      const value = `v-${key}`;
      try {
        const r = await new Promise((resolve, reject) => {
          const body = JSON.stringify({ key, value });
          const req = https.request({ host: '127.0.0.1', port: k.port, method: 'POST', path: '/api/v1/test/probe', ca: k.ca, servername: 'localhost', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 5000 }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode));
            res.on('error', reject);
            res.on('close', () => reject(new Error('closed')));
          });
          req.on('error', reject);
          req.on('close', () => reject(new Error('closed')));
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.end(body);
        });
        if (r === 201) { acked.set(key, value); writes++; trialAcked++; }
      } catch {
        return; // the server died under us: unacknowledged, may or may not be there
      }
    }
  };
  const writers = [writer(), writer(), writer()];
  while (Date.now() < killAt) await sleep(5);
  process.kill(k.pid, 'SIGKILL');
  stop = true;
  await Promise.all(writers);
  agent.destroy();
  await k.stop('SIGKILL');
  k = await startKamer({ dataDir, port: k.port, env });
  // Every write acknowledged in this trial must be there (all trials are
  // checked again at the end).
  const verify = async (keys) => {
    const vagent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    let miss = 0;
    for (const key of keys) {
      const r = await get(vagent, key);
      if (r.status !== 200 || r.value !== acked.get(key)) miss++;
    }
    vagent.destroy();
    return miss;
  };
  const missing = await verify([...acked.keys()].filter((key) => key.startsWith(`t${trial}-`)));
  lost += missing;
  console.log(`crash trial ${trial}/${trials}: killed after ${writes} acknowledged writes in all, ${missing} lost`);
}
const finalMissing = await (async () => {
  const vagent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  let miss = 0;
  let i = 0;
  for (const [key, value] of acked) {
    if (i++ % 7 !== 0) continue; // a sample of the earlier trials' writes; each trial checked all of its own
    const r = await get(vagent, key);
    if (r.status !== 200 || r.value !== value) miss++;
  }
  vagent.destroy();
  return miss;
})();
lost += finalMissing;
await k.stop();
console.log(`crash test: ${trials} kill -9 trials, ${acked.size} acknowledged writes, ${lost} lost`);
assert.equal(lost, 0, 'acknowledged writes were lost');
assert.ok(acked.size >= trials, 'the test must actually have written something');

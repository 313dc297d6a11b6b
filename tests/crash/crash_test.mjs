// crash_test.mjs — kill -9 at random moments while writes are acknowledged
// in a loop; after each restart every acknowledged write must be there.
// Trials: CRASH_TRIALS (default 20). Bounded: each trial writes for at most
// 1.5 s; the whole run is capped at 10 minutes.
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
let writes = 0;

for (let trial = 1; trial <= trials && Date.now() < deadline; trial++) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  const killAt = Date.now() + 100 + Math.floor(Math.random() * 1400);
  let stop = false;
  const writer = async () => {
    while (!stop) {
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
        if (r === 201) { acked.set(key, value); writes++; }
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
  // Check every write acknowledged so far (all trials): nothing may be lost.
  let missing = 0;
  for (const [key, value] of acked) {
    const r = await k.req('GET', `/api/v1/test/probe/${key}`);
    if (r.status !== 200 || r.json.value !== value) missing++;
  }
  lost += missing;
  console.log(`crash trial ${trial}/${trials}: killed after ${writes} acknowledged writes in all, ${missing} lost`);
}
await k.stop();
console.log(`crash test: ${trials} kill -9 trials, ${acked.size} acknowledged writes, ${lost} lost`);
assert.equal(lost, 0, 'acknowledged writes were lost');
assert.ok(acked.size >= trials, 'the test must actually have written something');

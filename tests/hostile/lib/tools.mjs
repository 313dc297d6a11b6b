// tools.mjs — running outside scanners (testssl.sh, nmap) from the hostile
// tests: finding them, and running one with a hard time limit (its whole
// process group is killed when the limit passes).
import { spawn, spawnSync } from 'node:child_process';

// The path of command, or '' if it is not installed.
export function which(command) {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

// Runs command with args in its own process group. Resolves {code, signal,
// stdout, stderr, ms, timedOut}; after timeoutMs the group gets SIGKILL.
export function runBounded(command, args, { timeoutMs, env } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(env || {}) } });
    let stdout = '', stderr = '', timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); resolve({ code: null, signal: null, stdout, stderr: String(e), ms: Date.now() - t0, timedOut }); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, timedOut });
    });
  });
}

// Prints a message no one can miss (for a skipped check: a skip is not a pass).
export function loud(lines) {
  const bar = '!'.repeat(72);
  console.log([bar, ...lines.map((l) => `!! ${l}`), bar].join('\n'));
}

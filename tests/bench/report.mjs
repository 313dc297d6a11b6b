// report.mjs — turns the load client's JSON lines of one `make bench` run
// into bench/results/<date>.json (raw steps and the summary), <date>.md (the
// table with kamer/Janus and kamer/floor ratios, printed too) and <date>.png
// (gnuplot: CPU per forwarded packet and p99 latency against load). The last
// line printed is the machine-readable summary over the load steps below
// Janus's saturation:
//   kamer/janus cpu_per_packet=R capacity=R p99_latency=R floor_ratio=R
// each the worst step (lower is better for kamer; capacity as Janus/kamer).
// Usage: node report.mjs --in DIR --out PREFIX [--quick 0|1] [--kamer-version V] [--janus-version V]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const A = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) A[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!A.in || !A.out) { console.error('usage: report.mjs --in DIR --out PREFIX'); process.exit(2); }

const SERVERS = ['janus', 'kamer', 'floor'];
const read = (f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const scenarios = {};
for (const per of [2, 4]) {
  const s = {};
  for (const srv of SERVERS) {
    const lines = read(path.join(A.in, `${srv}-${per}.jsonl`));
    if (lines.length) s[srv] = lines.filter((l) => l.type === 'step');
  }
  if (Object.keys(s).length) scenarios[per] = s;
}

// Capacity: the most rooms held with loss <= 1 % and every room up; "at
// least" when the run ended without the server saturating.
function capacity(steps) {
  if (!steps || !steps.length) return null;
  const ok = steps.filter((x) => !x.saturated);
  const last = steps[steps.length - 1];
  return { rooms: ok.length ? ok[ok.length - 1].rooms : 0, at_least: !last.saturated, client_limited: !!last.client_limited };
}

const f = (x, d = 1) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toFixed(d));
const ratio = (a, b) => (a > 0 && b > 0 ? a / b : null);
const worst = (xs) => (xs.length ? Math.max(...xs) : null);
const geo = (xs) => (xs.length ? Math.exp(xs.reduce((s, x) => s + Math.log(x), 0) / xs.length) : null);

const md = [];
const summary = { cpu_per_packet: [], p99_latency: [], floor_ratio: [], capacity: [] };
const perScenario = {};
md.push(`# kamer vs Janus — ${A.out.split('/').pop()}${A.quick === '1' ? ' (QUICK)' : ''}`, '');
md.push(`kamer ${A['kamer-version'] || '?'}, Janus ${A['janus-version'] || '?'} (VideoRoom, event_loops 1), ` +
  `${os.cpus().length} × ${os.cpus()[0]?.model || 'CPU'}; server on CPU 0, load client on CPU 1; ` +
  'each publisher sends Opus (50 pkt/s) and VP8 (~1 Mbit/s); AES-256-GCM SRTP everywhere. ' +
  'At each step the servers take turns (Janus, kamer, the floor), each started afresh, its rooms joined at once.', '');
for (const [per, s] of Object.entries(scenarios)) {
  const byRooms = new Map();
  for (const srv of SERVERS) for (const x of s[srv] || []) {
    if (!byRooms.has(x.rooms)) byRooms.set(x.rooms, {});
    byRooms.get(x.rooms)[srv] = x;
  }
  const caps = Object.fromEntries(SERVERS.filter((v) => s[v]).map((v) => [v, capacity(s[v])]));
  perScenario[per] = { capacity: caps };
  md.push(`## ${per === '2' ? '1:1 consults (2 per room)' : `rooms of ${per}`}`, '');
  md.push('| rooms | fwd pkt/s | µs/pkt Janus | µs/pkt kamer | µs/pkt floor | kamer/Janus | kamer/floor | p50 ms J / k | p99 ms J / k | max ms J / k | loss % J / k | RSS/participant KB J / k | first frame ms J / k (p50, max) | server CPU % J / k | client CPU % J / k | pkt per wake-up J / k / floor |');
  md.push('|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|---|---|---|---|');
  for (const rooms of [...byRooms.keys()].sort((a, b) => a - b)) {
    const { janus: j, kamer: k } = byRooms.get(rooms);
    // the floor is measured at a few steps: the nearest one (by rooms, log scale) stands in
    const fls = s.floor || [];
    const fl = byRooms.get(rooms).floor || fls.reduce((b, x) => (!b || Math.abs(Math.log(x.rooms / rooms)) < Math.abs(Math.log(b.rooms / rooms)) ? x : b), null);
    const near = fl && fl.rooms !== rooms ? `~` : '';
    const mark = (x) => (x ? (x.saturated ? '*' : '') + (x.client_limited ? '†' : '') + (x.other_core0_pct > 15 ? '‡' : '') : '');
    const rk = ratio(k?.cpu_us_per_pkt, j?.cpu_us_per_pkt), rf = ratio(k?.cpu_us_per_pkt, fl?.cpu_us_per_pkt);
    const pair = (a, b, d = 1) => `${a ? f(a, d) : '–'} / ${b ? f(b, d) : '–'}`;
    md.push(`| ${rooms} | ${f((k || j || byRooms.get(rooms).floor).rx_pps, 0)} | ${j ? f(j.cpu_us_per_pkt) + mark(j) : '–'} | ${k ? f(k.cpu_us_per_pkt) + mark(k) : '–'} | ` +
      `${fl ? near + f(fl.cpu_us_per_pkt) : '–'} | ${f(rk, 2)} | ${f(rf, 2)} | ${pair(j?.latency_ms.p50, k?.latency_ms.p50, 2)} | ` +
      `${pair(j?.latency_ms.p99, k?.latency_ms.p99, 2)} | ${pair(j?.latency_ms.max, k?.latency_ms.max, 1)} | ` +
      `${j ? f(j.loss_pct, 2) : '–'} / ${k ? f(k.loss_pct, 2) : '–'} | ${pair(j?.rss_per_participant_kb, k?.rss_per_participant_kb, 0)} | ` +
      `${j ? `${f(j.first_frame.p50_ms, 0)}, ${f(j.first_frame.max_ms, 0)}` : '–'} / ${k ? `${f(k.first_frame.p50_ms, 0)}, ${f(k.first_frame.max_ms, 0)}` : '–'} | ` +
      `${pair(j?.server_cpu_pct, k?.server_cpu_pct, 0)} | ${pair(j?.client_cpu_pct, k?.client_cpu_pct, 0)} | ` +
      `${pair(j?.pkts_per_wakeup, k?.pkts_per_wakeup, 1)} / ${fl?.pkts_per_wakeup ? near + f(fl.pkts_per_wakeup, 1) : '–'} |`);
    if (j && k && !j.saturated && !k.saturated) {
      summary.cpu_per_packet.push(rk);
      const rl = ratio(k.latency_ms.p99, j.latency_ms.p99);
      if (rl) summary.p99_latency.push(rl);
    }
    if (j && !j.saturated && k && !k.saturated && fl && !near && rf) summary.floor_ratio.push(rf);
  }
  const drops = SERVERS.flatMap((v) => (s[v] || []).filter((x) => x.rcvbuf_errors && (x.rcvbuf_errors.server || x.rcvbuf_errors.client))
    .map((x) => `${v} ${x.rooms} rooms: ${x.rcvbuf_errors.server} / ${x.rcvbuf_errors.client}`));
  md.push('', `Datagrams dropped for full receive buffers in the window (server / client namespace): ${drops.length ? drops.join('; ') : 'none'}.`);
  const c = (x) => (x ? `${x.at_least ? '≥ ' : ''}${x.rooms}${x.client_limited ? ' (client-limited)' : ''}` : '–');
  md.push('', `Capacity on one core (rooms at ≤ 1 % loss): Janus ${c(caps.janus)}, kamer ${c(caps.kamer)}` +
    `${caps.janus && caps.kamer && caps.janus.rooms ? `, kamer/Janus ${f(caps.kamer.rooms / caps.janus.rooms, 2)}×` : ''}.`, '');
  if (caps.janus?.rooms && caps.kamer?.rooms) summary.capacity.push(caps.janus.rooms / caps.kamer.rooms);
}
md.push('`~` the floor at the nearest step it was measured at (where it has no figure of its own for that step).',
  '`*` saturated (loss over 1 %, a room not up, or the server process at 95 % of its core); `†` the load client at 95 % of its core;',
  '`‡` other work took over 15 % of the server\'s core during the window, even when measured again (the machine is shared).',
  'µs/pkt: the server process\'s utime+stime over the window divided by RTP packets delivered to subscribers. Latency: one-way, send stamp to receipt, same clock.',
  'pkt per wake-up: RTP packets delivered to subscribers over the times the server\'s threads went to sleep (voluntary context switches) in the window (the more packets a wake-up carries, the less its fixed cost in the kernel weighs per packet).',
  'RSS per participant: (RSS at the window − RSS before the first room) / participants. First frame: from the start of the room\'s joining to the first decoded VP8 frame of each subscribed stream.', '');

const S = Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, { worst: worst(v), geomean: geo(v), steps: v.length }]));
const line = `kamer/janus cpu_per_packet=${f(S.cpu_per_packet.worst, 3)} capacity=${f(S.capacity.worst, 3)} ` +
  `p99_latency=${f(S.p99_latency.worst, 3)} floor_ratio=${f(S.floor_ratio.worst, 3)}`;
md.push(`Summary (worst step below Janus's saturation): \`${line}\``, '');

// gnuplot: one data block per server and scenario, against forwarded packets/s
const dat = [];
const series = [];
for (const [per, s] of Object.entries(scenarios)) for (const srv of SERVERS) {
  if (!s[srv]) continue;
  series.push({ srv, per, idx: series.length });
  dat.push(`# ${srv} ${per}`, ...s[srv].map((x) => `${x.rx_pps} ${x.cpu_us_per_pkt} ${x.latency_ms.p99} ${x.rooms}`), '', '');
}
fs.mkdirSync(path.dirname(A.out), { recursive: true });
const datFile = `${A.out}.dat`;
fs.writeFileSync(datFile, dat.join('\n'));
const color = { janus: '#c0392b', kamer: '#2471a3', floor: '#7f8c8d' };
const plot = (col) => series.map((x) => `'${datFile}' index ${x.idx} using 1:${col} with linespoints lw 2 pt ${x.per === '2' ? 7 : 5} ` +
  `dt ${x.per === '2' ? 1 : 2} lc rgb '${color[x.srv]}' title '${x.srv} ${x.per === '2' ? '1:1' : `${x.per}/room`}'`).join(', ');
const gp = [
  `set terminal pngcairo size 1200,520 font ',10'`, `set output '${A.out}.png'`, 'set multiplot layout 1,2',
  'set logscale x', 'set grid', 'set key top right', "set xlabel 'forwarded packets per second'",
  "set ylabel 'server CPU µs per forwarded packet'", 'set yrange [0:*]', `set title 'CPU per forwarded packet'`, `plot ${plot(2)}`,
  "set ylabel 'one-way latency p99 (ms)'", 'set key top left', 'set logscale y', 'set yrange [*:*]', `set title 'p99 latency through the server'`, `plot ${plot(3)}`,
  'unset multiplot',
].join('\n');
fs.writeFileSync(`${A.out}.gp`, gp);
const g = series.length ? spawnSync('gnuplot', [`${A.out}.gp`], { encoding: 'utf8', timeout: 60000 }) : { status: 1, stderr: 'no data' };
if (g.status !== 0) console.error(`report: gnuplot failed: ${g.stderr}`);
else md.push(`![CPU per packet and p99 latency](${path.basename(A.out)}.png)`, '');
fs.rmSync(`${A.out}.gp`, { force: true });
fs.rmSync(datFile, { force: true });

const warnings = {};
for (const per of Object.keys(scenarios)) {
  const w = path.join(A.in, `kamer-${per}.warnings`);
  if (fs.existsSync(w)) warnings[per] = fs.readFileSync(w, 'utf8').trim();
}
const out = {
  date: path.basename(A.out), quick: A.quick === '1', kamer: A['kamer-version'], janus: A['janus-version'],
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg: os.loadavg() },
  scenarios: Object.fromEntries(Object.entries(scenarios).map(([per, s]) => [per, { ...s, ...perScenario[per] }])),
  kamer_log_warnings: warnings, summary: { ...S, line },
};
fs.writeFileSync(`${A.out}.json`, `${JSON.stringify(out, null, 1)}\n`);
fs.writeFileSync(`${A.out}.md`, `${md.join('\n')}\n`);
console.log(md.join('\n'));
console.log(`results: ${A.out}.json, .md${g.status === 0 ? ', .png' : ''}`);
console.log(line);

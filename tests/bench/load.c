/* load.c — kamer-load, the benchmark's load client (see load.h): runs load
 * steps of N rooms of P participants against kamer, Janus or the floor
 * forwarder. Each step joins the new rooms (the old ones keep running),
 * waits until every stream flows and every subscriber decoded a first
 * frame, warms up, then measures a window: the server's CPU (utime+stime
 * of its PID) per RTP packet delivered to subscribers, one-way delay from
 * the stamps (p50/p99/max), loss from the stamp sequences, the server's RSS
 * per participant, join-to-first-frame. One JSON line per step on stdout;
 * it stops after the step where the server saturates (loss over
 * --max-loss % or its core at --max-cpu %) or the client does.
 * Threads: one. */
#include "tests/bench/load.h"

#include "core/err.h"
#include "media/srtp.h"

#include <dirent.h>
#include <getopt.h>
#include <glib-unix.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS 2
#define MAX_OTHER_PCT 15.0 /* other work on the server's core that voids a window */
#define MAX_REMEASURE 1

typedef struct {
	int steps[64], nsteps;
	int warmup, window, join_timeout, timeout;
	double max_loss, max_cpu;
	int server_pid;
	const char *label;
} opts_t;

typedef enum { PH_JOIN, PH_WARM, PH_WINDOW, PH_DONE } phase_t;

typedef struct {
	uint64_t srv_ticks, cli_ticks, core_busy, core_total, core_steal;
	uint64_t srv_sleeps; /* the server's threads' voluntary context switches */
	uint64_t srv_rcvbuf, cli_rcvbuf; /* UDP RcvbufErrors of each namespace */
	int64_t t_us;
} snap_t;

static ld_t L;
static opts_t O;
static phase_t phase;
static int step, first_new_room;
static int64_t phase_end_us, join_start_us, deadline_us;
static snap_t w0;
static int remeasured; /* windows of this step voided by other work */
static long rss_base_kb;
static bool stop;

void ld_log(ld_t *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "kamer-load: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

void ld_fail(ld_part_t *p, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof p->why, fmt, ap);
	va_end(ap);
	ld_log(&L, "room %d participant %d: %s", p->room->index, p->slot, p->why);
}

void ld_proto_candidate(ld_part_t *p, ld_conn_t *c, const char *cand)
{
	if (L.server == LD_KAMER)
		ld_kamer_candidate(p, c, cand);
	else if (L.server == LD_JANUS)
		ld_janus_candidate(p, c, cand);
}

void ld_proto_state(ld_part_t *p, ld_conn_t *c)
{
	if (c->state == KM_CONN_FAILED || c->state == KM_CONN_CLOSED)
		ld_fail(p, "%s: %s %s", c->kind == LD_PUB ? "pub" : "sub", km_conn_state_name(c->state), c->reason);
}

/* ---- /proc ---- */

static uint64_t proc_ticks(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, pid ? "/proc/%d/stat" : "/proc/self/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

/* The number after key (e.g. "VmRSS:") in a /proc status file, or 0. */
static unsigned long long status_value(const char *path, const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	unsigned long long v = 0;
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, klen) == 0) {
			v = strtoull(line + klen, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

static long proc_rss_kb(int pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	return (long)status_value(path, "VmRSS:");
}

/* How many times the threads of pid went to sleep (voluntary context
 * switches, summed over /proc/PID/task): each one is a wake-up later.
 * Threads that ended in the window are not counted. */
static uint64_t proc_sleeps(int pid)
{
	char path[64];
	uint64_t sum = 0;
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	struct dirent *e;
	for (int i = 0; d && i < 4096 && (e = readdir(d)); i++) {
		if (e->d_name[0] == '.')
			continue;
		char sp[384];
		if (snprintf(sp, sizeof sp, "%s/%.255s/status", path, e->d_name) >= (int)sizeof sp)
			continue;
		sum += status_value(sp, "voluntary_ctxt_switches:");
	}
	if (d)
		closedir(d);
	return sum;
}

/* The server's core (cpu0): busy, total and steal jiffies. */
static void core_times(uint64_t *busy, uint64_t *total, uint64_t *steal)
{
	char line[512];
	FILE *f = fopen("/proc/stat", "r");
	*busy = *total = *steal = 0;
	while (f && fgets(line, sizeof line, f)) {
		unsigned long long v[8] = { 0 };
		if (sscanf(line, "cpu0 %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
			   &v[4], &v[5], &v[6], &v[7]) >= 4) {
			*total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
			*busy = *total - v[3] - v[4];
			*steal = v[7];
			break;
		}
	}
	if (f)
		fclose(f);
}

/* UDP datagrams dropped for a full receive buffer (RcvbufErrors) in the
 * network namespace of pid (0: ours), from /proc/PID/net/snmp. */
static uint64_t rcvbuf_errors(int pid)
{
	char path[64], names[1024], vals[1024];
	uint64_t n = 0;
	snprintf(path, sizeof path, pid ? "/proc/%d/net/snmp" : "/proc/self/net/snmp", pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(names, sizeof names, f) && fgets(vals, sizeof vals, f)) {
		if (strncmp(names, "Udp:", 4) != 0 || strncmp(vals, "Udp:", 4) != 0)
			continue;
		char *sn = NULL, *sv = NULL;
		char *a = strtok_r(names + 4, " \n", &sn), *b = strtok_r(vals + 4, " \n", &sv);
		for (; a && b; a = strtok_r(NULL, " \n", &sn), b = strtok_r(NULL, " \n", &sv))
			if (strcmp(a, "RcvbufErrors") == 0)
				n = strtoull(b, NULL, 10);
		break;
	}
	if (f)
		fclose(f);
	return n;
}

static void snapshot(snap_t *s)
{
	s->srv_rcvbuf = rcvbuf_errors(O.server_pid);
	s->cli_rcvbuf = rcvbuf_errors(0);
	s->srv_ticks = proc_ticks(O.server_pid);
	s->srv_sleeps = proc_sleeps(O.server_pid);
	s->cli_ticks = proc_ticks(0);
	core_times(&s->core_busy, &s->core_total, &s->core_steal);
	s->t_us = g_get_monotonic_time();
}

/* ---- rooms ---- */

static int make_room(int i, char *err, size_t errlen)
{
	ld_room_t *r = &L.rooms[i];
	memset(r, 0, sizeof *r);
	r->index = i;
	r->n = L.per_room;
	json_t *pr = L.plan ? json_array_get(json_object_get(L.plan, "rooms"), (size_t)i) : NULL;
	if (L.server == LD_KAMER) {
		if (!pr)
			return km_errf(KM_EINVAL, err, errlen, "the plan has no room %d", i);
		r->consult = json_integer_value(json_object_get(pr, "consult"));
	}
	for (int k = 0; k < r->n; k++) {
		ld_part_t *p = calloc(1, sizeof *p);
		if (!p)
			return km_errf(KM_ENOMEM, err, errlen, "out of memory");
		p->L = &L;
		p->room = r;
		p->slot = k;
		p->index = i * L.per_room + k;
		p->tx[0] = (ld_tx_t){ .ssrc = km_peer_random32(), .pt = KM_PEER_OPUS_PT, .seq = (uint16_t)km_peer_random32() };
		p->tx[1] = (ld_tx_t){ .ssrc = km_peer_random32(), .pt = KM_PEER_VP8_PT, .seq = (uint16_t)km_peer_random32() };
		if (L.server == LD_KAMER && k > 0) {
			p->token = json_string_value(json_array_get(json_object_get(pr, "tokens"), (size_t)k - 1));
			if (!p->token)
				return km_errf(KM_EINVAL, err, errlen, "the plan has no token %d in room %d", k, i);
		}
		r->parts[k] = p;
	}
	return 0;
}

static void join_room(ld_room_t *r)
{
	char err[256];
	r->join_us = g_get_monotonic_time();
	for (int k = 0; k < r->n; k++) {
		ld_part_t *p = r->parts[k];
		if (L.server == LD_KAMER) {
			ld_kamer_join(p);
		} else if (L.server == LD_JANUS) {
			ld_janus_join(p);
		} else {
			p->pub = ld_conn_new(p, LD_PUB, err, sizeof err);
			p->sub = p->pub ? ld_conn_new(p, LD_SUB, err, sizeof err) : NULL;
			if (!p->sub)
				ld_fail(p, "floor: %s", err);
		}
	}
}

static void free_room(ld_room_t *r)
{
	for (int k = 0; k < r->n; k++) {
		ld_part_t *p = r->parts[k];
		if (!p)
			continue;
		ld_conn_free(p->pub);
		ld_conn_free(p->sub);
		bws_conn_free(p->ws);
		free(p);
	}
}

static bool part_ready(const ld_part_t *p)
{
	const ld_conn_t *s = p->sub;
	if (p->failed || !p->publishing || !s || s->state != KM_CONN_CONNECTED)
		return false;
	int started = 0;
	for (int i = 0; i < s->nrx; i++) {
		if (s->rx[i].started)
			started++;
		if (s->rx[i].video && !s->rx[i].first_frame_us)
			return false;
	}
	return started >= 2 * (p->room->n - 1);
}

static bool room_ready(ld_room_t *r)
{
	if (!r->ready) {
		bool all = true;
		for (int k = 0; k < r->n && all; k++)
			all = part_ready(r->parts[k]);
		r->ready = all;
	}
	return r->ready;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Join-to-first-frame of the video streams of rooms [from, to). */
static json_t *first_frames(int from, int to)
{
	size_t cap = (size_t)(to - from) * LD_MAX_PER_ROOM * LD_MAX_PER_ROOM, n = 0, missing = 0;
	int64_t *v = calloc(cap ? cap : 1, sizeof *v);
	for (int i = from; i < to && v; i++) {
		ld_room_t *r = &L.rooms[i];
		for (int k = 0; k < r->n; k++) {
			ld_conn_t *s = r->parts[k]->sub;
			int got = 0;
			for (int x = 0; s && x < s->nrx; x++) {
				if (!s->rx[x].video)
					continue;
				if (s->rx[x].first_frame_us && n < cap) {
					v[n++] = s->rx[x].first_frame_us - r->join_us;
					got++;
				}
			}
			missing += (size_t)(r->n - 1 - got > 0 ? r->n - 1 - got : 0);
		}
	}
	if (v && n)
		qsort(v, n, sizeof *v, cmp_i64);
	json_t *o = json_pack("{s:I,s:I,s:f,s:f}", "streams", (json_int_t)n, "missing", (json_int_t)missing,
			      "p50_ms", n ? v[(n - 1) / 2] / 1000.0 : 0.0, "max_ms", n ? v[n - 1] / 1000.0 : 0.0);
	free(v);
	return o;
}

/* ---- the step machine ---- */

/* Rooms join one after another, JOIN_GAP_US apart, so that the first-frame
 * decodes and DTLS handshakes of a step do not all land at once. */
#define JOIN_GAP_US(per) ((per) <= 2 ? 50000 : 100000)
static int joined_rooms;
static int64_t next_join_us;

static void join_due(int64_t now)
{
	while (joined_rooms < L.nrooms && now >= next_join_us) {
		join_room(&L.rooms[joined_rooms++]);
		next_join_us = now + JOIN_GAP_US(L.per_room);
	}
}

static void start_step(void)
{
	int target = O.steps[step];
	first_new_room = L.nrooms;
	L.nrooms = target;
	next_join_us = 0;
	join_due(g_get_monotonic_time());
	phase = PH_JOIN;
	join_start_us = g_get_monotonic_time();
	phase_end_us = join_start_us + (int64_t)O.join_timeout * G_USEC_PER_SEC +
		       (int64_t)(target - first_new_room) * JOIN_GAP_US(L.per_room);
	ld_log(&L, "step %d: %d rooms of %d", step + 1, target, L.per_room);
}

static void window_start(void)
{
	for (int i = 0; i < L.nrooms; i++)
		for (int k = 0; k < L.rooms[i].n; k++)
			ld_conn_window_start(L.rooms[i].parts[k]->sub);
	memset(&L.st, 0, sizeof L.st);
	L.st.on = true;
	snapshot(&w0);
}

static void window_end(void)
{
	snap_t w1;
	snapshot(&w1);
	L.st.on = false;
	ld_window_t w = { 0 };
	json_t *srtp = json_object();
	uint64_t plis_sent = 0, plis_received = 0, keyframes = 0;
	int failed = 0, ready = 0, parts = 0;
	uint64_t missing = 0;
	const char *why = "";
	for (int i = 0; i < L.nrooms; i++) {
		ready += room_ready(&L.rooms[i]);
		for (int k = 0; k < L.rooms[i].n; k++) {
			ld_part_t *p = L.rooms[i].parts[k];
			ld_conn_t *s = p->sub;
			int flowing = 0;
			parts++;
			for (int x = 0; s && x < s->nrx; x++)
				flowing += s->rx[x].started && s->rx[x].w_packets;
			if (2 * (p->room->n - 1) > flowing)
				missing += (uint64_t)(2 * (p->room->n - 1) - flowing);
			ld_conn_window_end(s, &w);
			plis_sent += s ? s->plis_sent : 0;
			plis_received += p->pub ? p->pub->plis_received : 0;
			keyframes += p->tx[1].keyframes;
			for (int c = 0; c < 2; c++) {
				ld_conn_t *cn = c ? p->sub : p->pub;
				const char *prof = !cn ? "none" : cn->conn ? km_conn_srtp_profile(cn->conn) : "floor (fixed keys)";
				json_object_set_new(srtp, prof, json_integer(json_integer_value(json_object_get(srtp, prof)) + 1));
			}
			if (p->failed) {
				failed++;
				why = p->why;
			}
		}
	}
	double secs = (double)(w1.t_us - w0.t_us) / 1e6;
	double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK);
	double srv_us = (double)(w1.srv_ticks - w0.srv_ticks) * tick_us;
	double cli_us = (double)(w1.cli_ticks - w0.cli_ticks) * tick_us;
	double core_total = (double)(w1.core_total - w0.core_total);
	/* A stream that stalled (or never flowed) lost what a flowing one of its
	 * kind received; missing streams are counted as video (the larger). */
	double expected = (double)w.expected, received = (double)w.received;
	for (int k = 0; k < 2; k++) {
		double avg = w.flowing[k] ? (double)w.flowing_packets[k] / (double)w.flowing[k] : 0;
		expected += avg * (double)(w.stalled[k] + (k == 1 ? missing : 0));
	}
	double loss = expected > 0 && expected > received ? 100.0 * (expected - received) / expected : 0;
	double seq_loss = w.expected && w.expected > w.received ? 100.0 * (double)(w.expected - w.received) / (double)w.expected : 0;
	double want = (double)L.st.tx_packets * (L.per_room - 1);
	double del_loss = want > 0 && want > (double)L.st.rx_packets ? 100.0 * (want - (double)L.st.rx_packets) / want : 0;
	double srv_pct = 100.0 * srv_us / (secs * 1e6);
	double core_pct = core_total > 0 ? 100.0 * (double)(w1.core_busy - w0.core_busy) / core_total : 0;
	double cli_pct = 100.0 * cli_us / (secs * 1e6);
	long rss = proc_rss_kb(O.server_pid);
	bool saturated = loss > O.max_loss || srv_pct >= O.max_cpu || ready < L.nrooms;
	bool client_limited = cli_pct >= O.max_cpu;
	/* Other work on the server's core during the window (the machine is
	 * shared): measure the step again, at most twice, rather than record it. */
	double other_pct = core_pct > srv_pct ? core_pct - srv_pct : 0;
	if (other_pct > MAX_OTHER_PCT && !saturated && remeasured < MAX_REMEASURE) {
		remeasured++;
		ld_log(&L, "step %d: other work took %.0f %% of the server's core; measuring again", step + 1, other_pct);
		json_decref(srtp);
		window_start();
		phase_end_us = w0.t_us + (int64_t)O.window * G_USEC_PER_SEC;
		return;
	}
	json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:f,s:f,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}",
		"type", "step", "label", O.label, "step", step + 1, "rooms", L.nrooms, "per_room", L.per_room,
		"participants", parts, "window_s", secs, "join_s", (double)(w0.t_us - join_start_us) / 1e6,
		"rx_packets", (json_int_t)L.st.rx_packets, "tx_packets", (json_int_t)L.st.tx_packets,
		"rx_pps", (double)L.st.rx_packets / secs, "rx_mbps", (double)L.st.rx_bytes * 8 / secs / 1e6,
		"cpu_us_per_pkt", L.st.rx_packets ? srv_us / (double)L.st.rx_packets : 0.0,
		"server_cpu_pct", srv_pct, "core0_busy_pct", core_pct, "client_cpu_pct", cli_pct,
		"loss_pct", loss, "seq_loss_pct", seq_loss, "delivery_loss_pct", del_loss);
	json_object_set_new(o, "latency_ms", json_pack("{s:f,s:f,s:f}", "p50", ld_hist_pct(L.st.hist, 50) / 1000.0,
		"p99", ld_hist_pct(L.st.hist, 99) / 1000.0, "max", (double)L.st.max_us / 1000.0));
	json_object_set_new(o, "rss_kb", json_integer(rss));
	json_object_set_new(o, "rss_per_participant_kb", json_real(parts ? (double)(rss - rss_base_kb) / parts : 0));
	json_object_set_new(o, "first_frame", first_frames(first_new_room, L.nrooms));
	/* how many delivered packets one wake-up of the server carried */
	double wakeups = (double)(w1.srv_sleeps - w0.srv_sleeps);
	json_object_set_new(o, "server_wakeups_per_s", json_real(wakeups / secs));
	json_object_set_new(o, "pkts_per_wakeup", json_real(wakeups > 0 ? (double)L.st.rx_packets / wakeups : 0));
	json_object_set_new(o, "steal_pct", json_real(core_total > 0 ? 100.0 * (double)(w1.core_steal - w0.core_steal) / core_total : 0));
	json_object_set_new(o, "other_core0_pct", json_real(other_pct));
	/* where datagrams were dropped for full receive buffers, if anywhere */
	json_object_set_new(o, "rcvbuf_errors", json_pack("{s:I,s:I}", "server", (json_int_t)(w1.srv_rcvbuf - w0.srv_rcvbuf),
		"client", (json_int_t)(w1.cli_rcvbuf - w0.cli_rcvbuf)));
	json_object_set_new(o, "remeasured", json_integer(remeasured));
	remeasured = 0;
	json_object_set_new(o, "rooms_ready", json_integer(ready));
	json_object_set_new(o, "srtp", srtp);
	/* since the start of the run: keyframe requests and keyframes played */
	json_object_set_new(o, "plis", json_pack("{s:I,s:I,s:I}", "sent_by_subscribers", (json_int_t)plis_sent,
		"received_by_publishers", (json_int_t)plis_received, "keyframes_sent", (json_int_t)keyframes));
	json_object_set_new(o, "streams_missing", json_integer((json_int_t)missing));
	json_object_set_new(o, "streams_stalled", json_integer((json_int_t)(w.stalled[0] + w.stalled[1])));
	json_object_set_new(o, "failed_participants", json_integer(failed));
	json_object_set_new(o, "failure", json_string(why));
	json_object_set_new(o, "saturated", json_boolean(saturated));
	json_object_set_new(o, "client_limited", json_boolean(client_limited));
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	if (s)
		printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(o);
	ld_log(&L, "step %d: %.1f us/pkt, loss %.2f %%, server %.0f %%, client %.0f %%", step + 1,
	       L.st.rx_packets ? srv_us / (double)L.st.rx_packets : 0.0, loss, srv_pct, cli_pct);
	if (saturated || client_limited || ++step >= O.nsteps)
		phase = PH_DONE;
	else
		start_step();
}

static gboolean supervise(gpointer ud)
{
	int64_t now = g_get_monotonic_time();
	if (stop || now >= deadline_us) {
		if (!stop)
			ld_log(&L, "overall time limit reached");
		phase = PH_DONE;
		return G_SOURCE_CONTINUE;
	}
	if (phase == PH_JOIN) {
		bool all = joined_rooms == L.nrooms;
		for (int i = 0; i < L.nrooms && all; i++)
			all = room_ready(&L.rooms[i]);
		if (all || now >= phase_end_us) {
			if (!all)
				ld_log(&L, "not every room was ready after %d s", O.join_timeout);
			phase = PH_WARM;
			phase_end_us = now + (int64_t)O.warmup * G_USEC_PER_SEC;
		}
	} else if (phase == PH_WARM && now >= phase_end_us) {
		window_start();
		phase = PH_WINDOW;
		phase_end_us = now + (int64_t)O.window * G_USEC_PER_SEC;
	} else if (phase == PH_WINDOW && now >= phase_end_us) {
		window_end();
	}
	return G_SOURCE_CONTINUE;
}

static gboolean tick_(void);
static gboolean tick(gpointer ud)
{
	int64_t a = g_get_monotonic_time();
	tick_();
	int64_t b = g_get_monotonic_time();
	if (L.verbose && b - a > 5000)
		ld_log(&L, "slow tick %lld us", (long long)(b - a));
	return G_SOURCE_CONTINUE;
}

static gboolean tick_(void)
{
	static int64_t next_fb, next_report;
	int64_t now = g_get_monotonic_time();
	if (phase == PH_JOIN)
		join_due(now);
	bool fb = now >= next_fb, reports = now >= next_report;
	if (fb)
		next_fb = now + 20000;
	if (reports)
		next_report = now + G_USEC_PER_SEC;
	for (int i = 0; i < L.nrooms; i++) {
		ld_room_t *r = &L.rooms[i];
		for (int k = 0; k < r->n; k++) {
			ld_part_t *p = r->parts[k];
			ld_part_send_due(p, now);
			if (!fb)
				continue;
			ld_conn_tick(p->pub, now, reports);
			ld_conn_tick(p->sub, now, reports);
			if (L.server == LD_KAMER)
				ld_kamer_tick(p, now);
			else if (L.server == LD_JANUS)
				ld_janus_tick(p, now);
		}
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer ud)
{
	stop = true;
	return G_SOURCE_CONTINUE;
}

static GSource *sources[4];
static int nsources;

static void add_source(GSource *s, GSourceFunc fn)
{
	g_source_set_callback(s, fn, NULL, NULL);
	g_source_attach(s, L.ctx);
	sources[nsources++] = s;
}

/* ---- options ---- */

static const char usage[] =
	"Usage: kamer-load --server kamer|janus|floor --host ADDR --port N --address ADDR\n"
	"         --per-room P --steps N,N,... --server-pid PID [--warmup S] [--window S]\n"
	"         [--join-timeout S] [--timeout S] [--max-loss PCT] [--max-cpu PCT]\n"
	"         [--plan FILE --ca FILE] (kamer) [--floor-client-port N] (floor) [--label TEXT]\n";

static int parse_steps(const char *s)
{
	O.nsteps = 0;
	while (*s && O.nsteps < 64) {
		char *e;
		long v = strtol(s, &e, 10);
		if (e == s || v < 1 || v > 4096)
			return -1;
		if (O.nsteps && v <= O.steps[O.nsteps - 1])
			return -1;
		O.steps[O.nsteps++] = (int)v;
		s = *e == ',' ? e + 1 : e;
		if (*e && *e != ',')
			return -1;
	}
	return O.nsteps ? 0 : -1;
}

static int parse_args(int argc, char **argv, const char **plan, const char **ca)
{
	static const struct option lo[] = {
		{ "server", 1, 0, 's' }, { "host", 1, 0, 'h' }, { "port", 1, 0, 'p' }, { "address", 1, 0, 'a' },
		{ "per-room", 1, 0, 'P' }, { "steps", 1, 0, 'S' }, { "server-pid", 1, 0, 'i' },
		{ "warmup", 1, 0, 'w' }, { "window", 1, 0, 'W' }, { "join-timeout", 1, 0, 'j' },
		{ "timeout", 1, 0, 't' }, { "max-loss", 1, 0, 'l' }, { "max-cpu", 1, 0, 'c' },
		{ "plan", 1, 0, 'f' }, { "ca", 1, 0, 'C' }, { "floor-client-port", 1, 0, 'F' },
		{ "label", 1, 0, 'L' }, { 0, 0, 0, 0 },
	};
	const char *server = NULL;
	int opt;
	O = (opts_t){ .warmup = 3, .window = 30, .join_timeout = 30, .timeout = 900, .max_loss = 1.0,
		.max_cpu = 95.0, .label = "" };
	L.host = "127.0.0.2";
	L.address = "127.0.0.3";
	L.per_room = 2;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'h': L.host = optarg; break;
		case 'p': L.port = atoi(optarg); break;
		case 'a': L.address = optarg; break;
		case 'P': L.per_room = atoi(optarg); break;
		case 'S': if (parse_steps(optarg)) return -1; break;
		case 'i': O.server_pid = atoi(optarg); break;
		case 'w': O.warmup = atoi(optarg); break;
		case 'W': O.window = atoi(optarg); break;
		case 'j': O.join_timeout = atoi(optarg); break;
		case 't': O.timeout = atoi(optarg); break;
		case 'l': O.max_loss = atof(optarg); break;
		case 'c': O.max_cpu = atof(optarg); break;
		case 'f': *plan = optarg; break;
		case 'C': *ca = optarg; break;
		case 'F': L.floor_client_port = atoi(optarg); break;
		case 'L': O.label = optarg; break;
		default: return -1;
		}
	}
	if (!server || L.port <= 0 || L.per_room < 2 || L.per_room > LD_MAX_PER_ROOM || !O.nsteps ||
	    O.server_pid <= 0 || O.window < 1)
		return -1;
	if (strcmp(server, "kamer") == 0)
		L.server = LD_KAMER;
	else if (strcmp(server, "janus") == 0)
		L.server = LD_JANUS;
	else if (strcmp(server, "floor") == 0)
		L.server = LD_FLOOR;
	else
		return -1;
	if (L.server == LD_KAMER && (!*plan || !*ca))
		return -1;
	if (L.server == LD_FLOOR && L.floor_client_port <= 0)
		return -1;
	return 0;
}

static int setup(const char *plan, const char *ca)
{
	char err[256];
	if (km_srtp_init() != 0 || km_dtls_cert_new(&L.cert) != 0)
		return ld_log(&L, "cannot set up DTLS/SRTP"), -1;
	if (ld_src_record(&L.src, 640, 360, 30, 1000, 4, 60) != 0)
		return ld_log(&L, "cannot encode the media loop"), -1;
	ld_log(&L, "media loop: %d frames, %d packets, video %.0f kbit/s on the wire", L.src.nframes,
	       L.src.audio_first, L.src.video_kbps);
	if (plan) {
		json_error_t je;
		L.plan = json_load_file(plan, 0, &je);
		L.cookie = json_string_value(json_object_get(L.plan, "cookie"));
		if (!L.plan || !L.cookie)
			return ld_log(&L, "--plan: %s", L.plan ? "no cookie" : je.text), -1;
	}
	if (L.server != LD_FLOOR && !(L.ws = bws_new(L.server == LD_KAMER ? ca : NULL)))
		return ld_log(&L, "cannot make the WebSocket context"), -1;
	L.maxrooms = O.steps[O.nsteps - 1];
	L.rooms = calloc((size_t)L.maxrooms, sizeof *L.rooms);
	for (int i = 0; L.rooms && i < L.maxrooms; i++)
		if (make_room(i, err, sizeof err) != 0)
			return ld_log(&L, "%s", err), -1;
	return L.rooms ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *plan = NULL, *ca = NULL;
	if (parse_args(argc, argv, &plan, &ca) != 0) {
		fputs(usage, stderr);
		return 2;
	}
	L.ctx = g_main_context_new();
	/* Like a kamer worker: what one iteration sends goes out in one
	 * sendmmsg per socket, so that the client's core lasts longer. */
	L.sendq = km_sendq_new();
	L.verbose = getenv("KMB_DEBUG") != NULL;
	int rc = setup(plan, ca);
	if (rc == 0) {
		rss_base_kb = proc_rss_kb(O.server_pid);
		deadline_us = g_get_monotonic_time() + (int64_t)O.timeout * G_USEC_PER_SEC;
		add_source(g_timeout_source_new(TICK_MS), tick);
		add_source(g_timeout_source_new(100), supervise);
		add_source(g_unix_signal_source_new(SIGINT), on_signal);
		add_source(g_unix_signal_source_new(SIGTERM), on_signal);
		start_step();
		int64_t worst_loop = 0, worst_ws = 0;
		bool debug = getenv("KMB_DEBUG") != NULL;
		while (phase != PH_DONE) {
			int64_t a = g_get_monotonic_time();
			g_main_context_iteration(L.ctx, TRUE);
			km_sendq_flush(L.sendq);
			int64_t b = g_get_monotonic_time();
			bws_service(L.ws);
			int64_t c = g_get_monotonic_time();
			if (debug && (b - a > worst_loop || c - b > worst_ws)) {
				worst_loop = b - a > worst_loop ? b - a : worst_loop;
				worst_ws = c - b > worst_ws ? c - b : worst_ws;
				ld_log(&L, "slow: glib %lld us, lws %lld us", (long long)(b - a), (long long)(c - b));
			}
		}
		printf("{\"type\":\"done\",\"label\":\"%s\",\"steps\":%d}\n", O.label, step);
	}
	for (int i = 0; i < nsources; i++) {
		g_source_destroy(sources[i]);
		g_source_unref(sources[i]);
	}
	for (int i = 0; i < L.maxrooms && L.rooms; i++)
		free_room(&L.rooms[i]);
	free(L.rooms);
	bws_free(L.ws);
	while (g_main_context_iteration(L.ctx, FALSE))
		;
	km_sendq_free(L.sendq); /* after every connection (they flush it when freed) */
	ld_src_free(&L.src);
	km_dtls_cert_free(L.cert);
	json_decref(L.plan);
	g_main_context_unref(L.ctx);
	return rc ? 1 : 0;
}

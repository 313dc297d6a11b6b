/* main.c — kamer-peer, the headless WebRTC test peer: parses the command
 * line, runs a session against kamer (tests/peer/session.h) or the
 * self-test without a server (tests/peer/selftest.h), prints the JSON
 * report on stdout and writes it to --report. Progress goes to stderr and
 * names no person: no token, cookie, display name or SDP.
 * Exit: 0 the run worked as asked, 2 the server refused, 1 otherwise.
 * Threads: one. */
#include "core/fs.h"
#include "media/dtls.h"
#include "tests/peer/selftest.h"
#include "tests/peer/session.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: kamer-peer --url wss://127.0.0.1:PORT/ws --ca DEV-CA.pem\n"
	"                  (--token TOKEN [--name NAME] | --cookie NAME=VALUE --consult ID [--admit-all])\n"
	"                  [--publish audio,video] [--subscribe] [--echo] [--seconds N] [--timeout N]\n"
	"                  [--loss PCT] [--tx-loss PCT] [--seed N] [--report FILE.json]\n"
	"                  [--srtp-profiles aes256|aes128|hmac] [--wrong-fingerprint] [--address IP]\n"
	"                  [--width W --height H --fps F --kbps K]\n"
	"       kamer-peer --selftest [--seconds N] [--loss PCT] [--publish audio,video] [--report FILE]\n"
	"                  [--srtp-profiles aes256|aes128|hmac] [--wrong-fingerprint]\n"
	"  --srtp-profiles aes128 offers only SRTP_AEAD_AES_128_GCM and hmac only\n"
	"  SRTP_AES128_CM_HMAC_SHA1_80: handshake probes without media (kamer must refuse hmac).\n"
	"  --wrong-fingerprint: handshake probes (AES-256-GCM unless --srtp-profiles says\n"
	"  aes128|hmac) whose SDP carries the fingerprint of another certificate than the\n"
	"  one shown in the DTLS handshake: kamer must refuse them (exit 2); with --selftest\n"
	"  the kamer-like answerer (media/dtls.c) must.\n"
	"  --loss drops received SRTP before it is unprotected (NACKs to kamer repair it);\n"
	"  --tx-loss drops sent RTP before SRTP (NACKs repair it). In --selftest, --loss is\n"
	"  applied by the sender, before SRTP. --selftest --srtp-profiles aes128|hmac probes\n"
	"  a kamer-like answerer that allows AES-256-GCM and AES-128-GCM.\n"
	"  Exit status: 0 worked as asked, 2 the server refused, 1 otherwise.\n";

typedef struct {
	km_peer_session_config_t s;
	bool selftest;
	const char *report;
	const char *profiles;
} opts_t;

enum {
	O_URL = 256, O_CA, O_TOKEN, O_NAME, O_COOKIE, O_CONSULT, O_PUBLISH, O_SUBSCRIBE, O_ECHO,
	O_SECONDS, O_TIMEOUT, O_LOSS, O_SEED, O_REPORT, O_PROFILES, O_ADMIT_ALL, O_SELFTEST,
	O_ADDRESS, O_WIDTH, O_HEIGHT, O_FPS, O_KBPS, O_HELP, O_TX_LOSS, O_WRONG_FP,
};

static const struct option longopts[] = {
	{ "url", required_argument, NULL, O_URL },
	{ "ca", required_argument, NULL, O_CA },
	{ "token", required_argument, NULL, O_TOKEN },
	{ "name", required_argument, NULL, O_NAME },
	{ "cookie", required_argument, NULL, O_COOKIE },
	{ "consult", required_argument, NULL, O_CONSULT },
	{ "publish", required_argument, NULL, O_PUBLISH },
	{ "subscribe", no_argument, NULL, O_SUBSCRIBE },
	{ "echo", no_argument, NULL, O_ECHO },
	{ "seconds", required_argument, NULL, O_SECONDS },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "loss", required_argument, NULL, O_LOSS },
	{ "tx-loss", required_argument, NULL, O_TX_LOSS },
	{ "seed", required_argument, NULL, O_SEED },
	{ "report", required_argument, NULL, O_REPORT },
	{ "srtp-profiles", required_argument, NULL, O_PROFILES },
	{ "wrong-fingerprint", no_argument, NULL, O_WRONG_FP },
	{ "admit-all", no_argument, NULL, O_ADMIT_ALL },
	{ "selftest", no_argument, NULL, O_SELFTEST },
	{ "address", required_argument, NULL, O_ADDRESS },
	{ "width", required_argument, NULL, O_WIDTH },
	{ "height", required_argument, NULL, O_HEIGHT },
	{ "fps", required_argument, NULL, O_FPS },
	{ "kbps", required_argument, NULL, O_KBPS },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "kamer-peer: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage);
	return -1;
}

static int num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_publish(opts_t *o, const char *list)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "audio") == 0)
			o->s.pub_audio = true;
		else if (strcmp(t, "video") == 0)
			o->s.pub_video = true;
		else
			return bad("--publish: '%s' is not audio or video", t);
	}
	return 0;
}

static int parse_profiles(opts_t *o, const char *v)
{
	o->profiles = v;
	if (strcmp(v, "aes256") == 0)
		o->s.profiles = KM_DTLS_AES256GCM;
	else if (strcmp(v, "aes128") == 0)
		o->s.probe_profiles = "SRTP_AEAD_AES_128_GCM";
	else if (strcmp(v, "hmac") == 0)
		o->s.probe_profiles = "SRTP_AES128_CM_SHA1_80";
	else
		return bad("--srtp-profiles: '%s' is not aes256, aes128 or hmac", v);
	return 0;
}

/* The numeric options; returns 1 if c was not one of them. */
static int parse_number(opts_t *o, int c, const char *arg)
{
	long long v;
	struct { int c; long long lo, hi; } r[] = {
		{ O_SECONDS, 0, 3600 }, { O_TIMEOUT, 1, 7200 }, { O_LOSS, 0, 100 }, { O_TX_LOSS, 0, 100 },
		{ O_SEED, 0, 0xffffffffLL }, { O_CONSULT, 1, (1LL << 53) }, { O_WIDTH, 16, 1920 },
		{ O_HEIGHT, 16, 1080 }, { O_FPS, 1, 60 }, { O_KBPS, 50, 10000 },
	};
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
		if (r[i].c != c)
			continue;
		if (num(arg, r[i].lo, r[i].hi, &v) != 0)
			return bad("a number out of range: '%s'", arg);
		switch (c) {
		case O_SECONDS: o->s.seconds = (int)v; break;
		case O_TIMEOUT: o->s.timeout = (int)v; break;
		case O_LOSS: o->s.loss_pct = (int)v; break;
		case O_TX_LOSS: o->s.tx_loss_pct = (int)v; break;
		case O_SEED: o->s.seed = (uint32_t)v; break;
		case O_CONSULT: o->s.consult = v; break;
		case O_WIDTH: o->s.video.width = (int)v & ~1; break;
		case O_HEIGHT: o->s.video.height = (int)v & ~1; break;
		case O_FPS: o->s.video.fps = (int)v; break;
		default: o->s.video.video_kbps = (int)v; break;
		}
		return 0;
	}
	return 1;
}

static int parse_one(opts_t *o, int c, const char *arg)
{
	int rc = parse_number(o, c, arg);
	if (rc <= 0)
		return rc;
	switch (c) {
	case O_URL: o->s.url = arg; return 0;
	case O_CA: o->s.ca = arg; return 0;
	case O_TOKEN: o->s.token = arg; return 0;
	case O_NAME: o->s.name = arg; return 0;
	case O_COOKIE: o->s.cookie = arg; return 0;
	case O_PUBLISH: return parse_publish(o, arg);
	case O_SUBSCRIBE: o->s.subscribe = true; return 0;
	case O_ECHO: o->s.echo = true; return 0;
	case O_REPORT: o->report = arg; return 0;
	case O_PROFILES: return parse_profiles(o, arg);
	case O_ADMIT_ALL: o->s.admit_all = true; return 0;
	case O_WRONG_FP: o->s.wrong_fingerprint = true; return 0;
	case O_SELFTEST: o->selftest = true; return 0;
	case O_ADDRESS: o->s.address = arg; return 0;
	case O_HELP: fputs(usage, stdout); exit(0);
	default: return bad("%s", "unknown option");
	}
}

static int check(const opts_t *o)
{
	if (o->selftest)
		return 0;
	if (!o->s.url || !o->s.ca)
		return bad("%s", "--url and --ca are required");
	if (!o->s.token == !o->s.cookie)
		return bad("%s", "give either --token (participant) or --cookie with --consult (staff)");
	if (o->s.cookie && !o->s.consult)
		return bad("%s", "--cookie needs --consult");
	return 0;
}

static int parse(opts_t *o, int argc, char **argv)
{
	memset(o, 0, sizeof *o);
	o->s.seconds = 5;
	o->s.seed = 1;
	o->s.address = "127.0.0.1";
	o->s.video.fps = 30;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (c == '?' || parse_one(o, c, optarg) != 0)
			return c == '?' ? bad("%s", "bad option") : -1;
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (!o->s.timeout)
		o->s.timeout = o->s.seconds + 60;
	if (o->s.wrong_fingerprint && !o->s.probe_profiles)
		o->s.probe_profiles = "SRTP_AEAD_AES_256_GCM"; /* only a probe can lie */
	return check(o);
}

/* "NAME=VALUE" as given, or a bare value as kamer's session cookie. */
static char *cookie_header(const char *c)
{
	if (!c || strchr(c, '='))
		return c ? strdup(c) : NULL;
	size_t n = strlen(c) + 32;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "__Host-kamer_session=%s", c);
	return s;
}

static int selftest(const opts_t *o, json_t **report)
{
	bool any = o->s.pub_audio || o->s.pub_video;
	km_peer_selftest_config_t t = {
		.seconds = o->s.seconds,
		.timeout = o->s.timeout,
		.audio = o->s.pub_audio || !any,
		.video = o->s.pub_video || !any,
		.loss_pct = o->s.loss_pct,
		.seed = o->s.seed,
		.profiles = o->s.profiles,
		.probe_profiles = o->s.probe_profiles,
		.wrong_fingerprint = o->s.wrong_fingerprint,
		.address = o->s.address,
		.video_cfg = o->s.video,
	};
	return km_peer_selftest_run(&t, report);
}

static int write_report(const opts_t *o, json_t *report)
{
	char *text = report ? json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	if (!text) {
		fprintf(stderr, "kamer-peer: no report\n");
		return -1;
	}
	printf("%s\n", text);
	fflush(stdout);
	int rc = 0;
	if (o->report) {
		char err[256];
		size_t len = strlen(text);
		text[len] = '\n';
		rc = km_fs_write_atomic(o->report, text, len + 1, 0644, err, sizeof err);
		text[len] = '\0';
		if (rc)
			fprintf(stderr, "kamer-peer: --report: %s\n", err);
	}
	free(text);
	return rc;
}

int main(int argc, char **argv)
{
	opts_t o;
	if (parse(&o, argc, argv) != 0)
		return 1;
	json_t *report = NULL;
	int code;
	if (o.selftest) {
		code = selftest(&o, &report);
	} else {
		char *cookie = cookie_header(o.s.cookie);
		o.s.cookie = cookie;
		code = km_peer_session_run(&o.s, &report);
		if (cookie) {
			memset(cookie, 0, strlen(cookie));
			free(cookie);
		}
	}
	if (report)
		json_object_set_new(report, "exit", json_integer(code));
	if (write_report(&o, report) != 0 && code == 0)
		code = 1;
	json_decref(report);
	return code;
}

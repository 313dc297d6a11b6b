/* smtp_send.c — test tool: composes an invitation with km_mail_compose (or
 * reads a ready message) and sends it with km_mail_smtp_send, so that
 * tests/integration/smtp.test.mjs can drive the real code against its own
 * SMTP server. Not part of kamer.
 *
 *   smtp_send --url URL --from A --to B [--ca FILE] [--user U --pass P]
 *             [--attempts N] [--timeout S] [--save FILE]
 *             (--org NAME --link URL --starts UNIX | --msg FILE)
 *
 * Exit 0: sent. Exit 2: sending failed, "smtp_send: ECODE: reason" on
 * stderr. Exit 1: usage, compose or file errors. */
#include "core/err.h"
#include "core/fs.h"
#include "rooms/mail.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char *opt(int argc, char **argv, const char *name)
{
	const char *v = NULL; /* the last one wins, so that tests can override */
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			v = argv[i + 1];
	return v;
}

static int compose(int argc, char **argv, const char *from, const char *to, char **msg, size_t *len)
{
	char err[256] = "";
	const char *file = opt(argc, argv, "--msg");
	if (file != NULL) {
		if (km_fs_read_all(file, KM_MAIL_MSG_MAX, msg, len, err, sizeof err) != 0) {
			fprintf(stderr, "smtp_send: %s\n", err);
			return 1;
		}
		return 0;
	}
	const char *starts = opt(argc, argv, "--starts");
	km_invite_mail_t m = {
		.to = to,
		.from = from,
		.link = opt(argc, argv, "--link"),
		.org_name = opt(argc, argv, "--org"),
		.starts_at = starts ? strtoll(starts, NULL, 10) : 0,
	};
	if (getrandom(m.random, sizeof m.random, 0) != (ssize_t)sizeof m.random) {
		fprintf(stderr, "smtp_send: no randomness\n");
		return 1;
	}
	if (km_mail_compose(&m, (int64_t)time(NULL), msg, len, err, sizeof err) != 0) {
		fprintf(stderr, "smtp_send: compose: %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *from = opt(argc, argv, "--from"), *to = opt(argc, argv, "--to");
	const char *save = opt(argc, argv, "--save"), *attempts = opt(argc, argv, "--attempts");
	const char *timeout = opt(argc, argv, "--timeout");
	km_smtp_config_t c = {
		.url = opt(argc, argv, "--url"),
		.username = opt(argc, argv, "--user"),
		.password = opt(argc, argv, "--pass"),
		.ca_file = opt(argc, argv, "--ca"),
		.attempts = attempts ? atoi(attempts) : 1,
		.timeout_s = timeout ? atoi(timeout) : 10,
	};
	char *msg = NULL, err[256] = "";
	size_t len = 0;
	if (c.url == NULL || from == NULL || to == NULL) {
		fprintf(stderr, "usage: smtp_send --url URL --from A --to B [options]\n");
		return 1;
	}
	if (compose(argc, argv, from, to, &msg, &len) != 0)
		return 1;
	if (save != NULL && km_fs_write_atomic(save, msg, len, 0600, err, sizeof err) != 0) {
		fprintf(stderr, "smtp_send: %s\n", err);
		free(msg);
		return 1;
	}
	int rc = km_mail_smtp_send(&c, from, to, msg, len, err, sizeof err);
	free(msg);
	curl_global_cleanup(); /* the library initialised it once; end cleanly for LeakSanitizer */
	if (rc != 0) {
		fprintf(stderr, "smtp_send: %s: %s\n", km_err_name(rc), err);
		return 2;
	}
	return 0;
}

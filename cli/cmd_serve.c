/* cmd_serve.c — `kamer serve`: prepares the data folder, certificates and
 * store, then runs the signaling server until SIGTERM/SIGINT. */
#include "certs/certs.h"
#include "cli/cli.h"
#include "cli/priv.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"
#include "rooms/audit.h"
#include "rooms/mail.h"
#include "rooms/secretbox.h"
#include "rooms/store.h"
#include "signaling/server.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
	"Usage: kamer serve [--data DIR] [--config FILE] [--listen ADDR:PORT] [--log-level LEVEL]\n"
	"                   [--user NAME]\n"
	"Runs kamer: HTTPS and WSS on one port (default 127.0.0.1:8443), data in DIR\n"
	"(default ./var: database, keys, certificates, outbox). Without tls_cert in the\n"
	"configuration, a development CA and server certificate are made in DIR/certs.\n"
	"Started as root, it opens its port, then runs as user NAME (config key user,\n"
	"default kamer; DIR must belong to it) and never stays root. Not root: runs as is.\n"
	"Stops cleanly on SIGTERM or SIGINT. See docs/configuration.md.\n";

enum { OPT_USER = OPT_FIRST_CMD_OPT };

static km_server_t *running;

static void on_signal(int sig)
{
	(void)sig;
	if (running)
		km_server_stop(running);
}

/* Makes the folder private if it is not (a folder made by hand or by an
 * older kamer): 0700, like everything kamer makes. */
static void tighten(const char *dir)
{
	struct stat st;
	char q[300];
	if (stat(dir, &st) != 0 || !(st.st_mode & 077))
		return;
	if (chmod(dir, 0700) == 0)
		km_warn("serve", "folder_mode_tightened", "path=%s was=%04o now=0700", km_log_quote(q, sizeof q, dir),
			(unsigned)(st.st_mode & 07777));
	else
		km_warn("serve", "folder_not_private", "path=%s mode=%04o hint=chmod_700", km_log_quote(q, sizeof q, dir),
			(unsigned)(st.st_mode & 07777));
}

static int prepare_folders(const km_config_t *cfg)
{
	char err[512], sub[KM_PATH_MAX + 32];
	static const char *const subs[] = { "certs", "keys", "outbox" };
	if (km_fs_mkdirs(cfg->data_dir, 0700, err, sizeof err) ||
	    km_fs_check_writable(cfg->data_dir, err, sizeof err)) {
		fprintf(stderr, "kamer serve: %s\n", err);
		return -1;
	}
	tighten(cfg->data_dir);
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		km_fs_join(sub, sizeof sub, cfg->data_dir, subs[i]);
		if (km_fs_mkdirs(sub, 0700, err, sizeof err)) {
			fprintf(stderr, "kamer serve: %s\n", err);
			return -1;
		}
		tighten(sub);
	}
	return 0;
}

/* Chooses the certificate: the configured one (checked), else the
 * development one (made or renewed as needed). */
static int prepare_tls(const km_config_t *cfg, char *cert, char *key, char *ca, size_t len)
{
	char err[512];
	if (cfg->tls_cert[0]) {
		int days;
		if (km_certs_check_pair(cfg->tls_cert, cfg->tls_key, time(NULL), &days, err, sizeof err)) {
			fprintf(stderr, "kamer serve: tls_cert/tls_key refused: %s\n", err);
			return -1;
		}
		if (days < 14)
			km_warn("tls", "certificate_expires_soon", "days_left=%d", days);
		snprintf(cert, len, "%s", cfg->tls_cert);
		snprintf(key, len, "%s", cfg->tls_key);
		ca[0] = 0;
		return 0;
	}
	char dir[KM_PATH_MAX + 16];
	km_fs_join(dir, sizeof dir, cfg->data_dir, "certs");
	km_certs_paths_t paths;
	int renewed = 0;
	if (km_certs_ensure_dev(dir, time(NULL), &paths, &renewed, err, sizeof err)) {
		fprintf(stderr, "kamer serve: cannot prepare the development certificate: %s\n", err);
		return -1;
	}
	if (renewed)
		km_info("tls", "dev_certificate_made", "dir=%s", dir);
	snprintf(cert, len, "%s", paths.server_cert);
	snprintf(key, len, "%s", paths.server_key);
	snprintf(ca, len, "%s", paths.ca_cert);
	return 0;
}

/* The SMTP settings, checked at start: the password file must be private,
 * mail_from a valid address. *on is 0 when smtp_url is empty (outbox). */
static int prepare_smtp(const km_config_t *cfg, km_smtp_config_t *smtp, char *pass, size_t passlen, int *on)
{
	char err[256];
	*on = 0;
	if (cfg->mail_from[0] && km_mail_address_check(cfg->mail_from, err, sizeof err)) {
		fprintf(stderr, "kamer serve: mail_from = \"%s\": %s\n", cfg->mail_from, err);
		return -1;
	}
	if (!cfg->smtp_url[0])
		return 0;
	memset(smtp, 0, sizeof *smtp);
	pass[0] = 0;
	if (cfg->smtp_password_file[0]) {
		struct stat st;
		char *text = NULL;
		size_t len = 0;
		if (stat(cfg->smtp_password_file, &st) == 0 && (st.st_mode & 077)) {
			fprintf(stderr, "kamer serve: smtp_password_file %s is readable by others; chmod 600 it\n",
				cfg->smtp_password_file);
			return -1;
		}
		if (km_fs_read_all(cfg->smtp_password_file, 1024, &text, &len, err, sizeof err)) {
			fprintf(stderr, "kamer serve: smtp_password_file: %s\n", err);
			return -1;
		}
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			text[--len] = 0;
		snprintf(pass, passlen, "%s", text);
		OPENSSL_cleanse(text, len);
		free(text);
	}
	smtp->url = cfg->smtp_url;
	smtp->username = cfg->smtp_username[0] ? cfg->smtp_username : NULL;
	smtp->password = pass[0] ? pass : NULL;
	smtp->ca_file = cfg->smtp_ca_file[0] ? cfg->smtp_ca_file : NULL;
	smtp->attempts = 3;
	smtp->timeout_s = 30;
	*on = 1;
	return 0;
}

static void banner(const km_config_t *cfg, const char *ca)
{
	char url[300], abs_data[PATH_MAX + 128], abs_ca[PATH_MAX + 128];
	if (cfg->public_url[0])
		snprintf(url, sizeof url, "%s/", cfg->public_url);
	else
		snprintf(url, sizeof url, "https://localhost:%d/", cfg->listen_port);
	if (!realpath(cfg->data_dir, abs_data))
		snprintf(abs_data, sizeof abs_data, "%s", cfg->data_dir);
	printf("\nkamer %s is running.\n", KM_VERSION);
	printf("  Open:         %s  (listening on %s:%d)\n", url, cfg->listen_host, cfg->listen_port);
	printf("  Data folder:  %s\n", abs_data);
	if (ca[0]) {
		if (!realpath(ca, abs_ca))
			snprintf(abs_ca, sizeof abs_ca, "%s", ca);
		printf("  Development CA certificate: %s\n", abs_ca);
		printf("    Import it into your browser (or curl --cacert) to trust this server.\n");
	}
	printf("  First organisation and admin (in another terminal):\n");
	printf("    %s admin org create \"My practice\" --data %s\n", "build/release/kamer", cfg->data_dir);
	printf("    %s admin user add --org \"My practice\" --role admin --email you@example.org --data %s\n",
	       "build/release/kamer", cfg->data_dir);
	printf("    then open the set-up link it prints.\n");
	printf("  Stop with Ctrl-C.\n\n");
	fflush(stdout);
}

/* The data folder's contents, made or opened as the service user when
 * started as root (so that they belong to it). On failure prints why and
 * leaves nothing open. */
static int open_data(const km_config_t *cfg, km_store_t **store, uint8_t server_key[KM_SECRETBOX_KEY_LEN],
		     km_audit_t **audit)
{
	char err[512], path[KM_PATH_MAX + 32];
	km_fs_join(path, sizeof path, cfg->data_dir, "kamer.db");
	if (km_store_open(path, store, err, sizeof err)) {
		fprintf(stderr, "kamer serve: %s\n", err);
		return -1;
	}
	km_fs_join(path, sizeof path, cfg->data_dir, "keys/server.key");
	if (km_secretbox_key_load_or_create(path, server_key, err, sizeof err)) {
		fprintf(stderr, "kamer serve: server key: %s\n", err);
		km_store_close(*store);
		return -1;
	}
	char host[64] = "kamer";
	gethostname(host, sizeof host - 1);
	if (km_audit_open(*store, cfg->data_dir, host, audit, err, sizeof err)) {
		fprintf(stderr, "kamer serve: audit log: %s\n", err);
		OPENSSL_cleanse(server_key, KM_SECRETBOX_KEY_LEN);
		km_store_close(*store);
		return -1;
	}
	return 0;
}

/* Started as root: finds the service user (exit 2 if there is none) and
 * checks that the data folder is its own (exit 1 if not). */
static int plan_privileges(const km_config_t *cfg, km_cli_priv_t *priv)
{
	char err[1024];
	int rc = km_cli_priv_plan(priv, cfg->user, err, sizeof err);
	if (rc) {
		fprintf(stderr, "kamer serve: %s\n", err);
		return KM_EXIT_USAGE;
	}
	if (km_cli_priv_check_dir(priv, cfg->data_dir, err, sizeof err)) {
		fprintf(stderr, "kamer serve: %s\n", err);
		return KM_EXIT_FAIL;
	}
	return KM_EXIT_OK;
}

/* Everything in the data folder, as the service user when root: folders,
 * the development certificate, the store, the server key, the audit log.
 * Returns to root afterwards. On failure prints why (with the chown advice
 * when root) and returns -1 with nothing open. */
static int prepare_as_user(const km_cli_priv_t *priv, const km_config_t *cfg, char *cert, char *key, char *ca,
			   size_t len, km_store_t **store, uint8_t server_key[KM_SECRETBOX_KEY_LEN],
			   km_audit_t **audit)
{
	char err[512], hint[KM_PATH_MAX * 2 + 128];
	if (km_cli_priv_enter(priv, err, sizeof err)) {
		fprintf(stderr, "kamer serve: %s\n", err);
		return -1;
	}
	int bad = prepare_folders(cfg) || (!cfg->tls_cert[0] && prepare_tls(cfg, cert, key, ca, len)) ||
		  open_data(cfg, store, server_key, audit);
	if (km_cli_priv_leave(priv, err, sizeof err)) {
		fprintf(stderr, "kamer serve: %s\n", err);
		if (!bad) {
			km_audit_free(*audit);
			km_store_close(*store);
			OPENSSL_cleanse(server_key, KM_SECRETBOX_KEY_LEN);
		}
		return -1;
	}
	if (bad) {
		km_cli_priv_hint(priv, cfg->data_dir, hint, sizeof hint);
		if (hint[0])
			fprintf(stderr, "kamer serve: %s\n", hint);
		return -1;
	}
	return 0;
}

/* Root's part (configured certificate, SMTP password file, the listening
 * socket), then the final drop to the service user. */
static int start_server(const km_cli_priv_t *priv, km_config_t *cfg, const char *cert, const char *key,
			km_store_t *store, km_audit_t *audit, uint8_t server_key[KM_SECRETBOX_KEY_LEN],
			km_server_t **srv)
{
	char err[512];
	km_smtp_config_t smtp;
	char smtp_pass[1100];
	int smtp_on;
	if (prepare_smtp(cfg, &smtp, smtp_pass, sizeof smtp_pass, &smtp_on))
		return -1;
	km_server_opts_t so = { .cfg = cfg, .store = store, .audit = audit, .server_key = server_key,
				.cert_path = cert, .key_path = key, .smtp = smtp_on ? &smtp : NULL };
	int rc = km_server_new(&so, srv, err, sizeof err);
	OPENSSL_cleanse(smtp_pass, sizeof smtp_pass);
	if (rc) {
		fprintf(stderr, "kamer serve: %s\n", err);
		return -1;
	}
	if (km_cli_priv_drop(priv, err, sizeof err)) {
		fprintf(stderr, "kamer serve: cannot drop root privileges: %s\n", err);
		km_server_free(*srv);
		*srv = NULL;
		return -1;
	}
	if (priv->active)
		km_info("serve", "privileges_dropped", "uid=%u gid=%u", (unsigned)priv->uid, (unsigned)priv->gid);
	return 0;
}

static void run(km_server_t *srv, const km_config_t *cfg, km_store_t *store, const char *ca)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	running = srv;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	km_info("serve", "listening", "addr=%s port=%d schema=%d test_hooks=%d", cfg->listen_host, cfg->listen_port,
		km_store_schema_version(store), cfg->test_hooks);
	banner(cfg, ca);
	km_server_run(srv);
	km_info("serve", "stopping", "");
	running = NULL;
}

int km_cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, 0, OPT_DATA },
		{ "config", required_argument, 0, OPT_CONFIG },
		{ "listen", required_argument, 0, OPT_LISTEN },
		{ "log-level", required_argument, 0, OPT_LOG_LEVEL },
		{ "user", required_argument, 0, OPT_USER },
		{ "help", no_argument, 0, OPT_HELP },
		{ 0, 0, 0, 0 },
	};
	km_cli_flags_t fl = { 0 };
	const char *user = NULL;
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(help, stdout);
			return KM_EXIT_OK;
		}
		if (opt == OPT_USER) {
			user = optarg;
			continue;
		}
		if (!km_cli_common_opt(opt, optarg, &fl)) {
			char what[160];
			snprintf(what, sizeof what, "unknown or incomplete option '%s'", argv[optind - 1]);
			return km_cli_usage_error("serve", what);
		}
	}
	if (optind < argc)
		return km_cli_usage_error("serve", "unexpected argument");

	umask(077); /* belt and braces: every file and folder kamer makes is its user's alone */
	km_config_t cfg;
	int rc = km_cli_load_config(&cfg, &fl, "serve");
	if (rc)
		return rc;
	char err[512];
	if (user && km_config_set(&cfg, "user", user, "--user", err, sizeof err)) {
		fprintf(stderr, "kamer serve: invalid option: %s\n", err);
		return KM_EXIT_USAGE;
	}
	km_cli_priv_t priv;
	if ((rc = plan_privileges(&cfg, &priv)))
		return rc;

	char cert[KM_PATH_MAX + 64], key[KM_PATH_MAX + 64], ca[KM_PATH_MAX + 64];
	km_store_t *store;
	km_audit_t *audit;
	uint8_t server_key[KM_SECRETBOX_KEY_LEN];
	if (prepare_as_user(&priv, &cfg, cert, key, ca, sizeof cert, &store, server_key, &audit))
		return KM_EXIT_FAIL;
	km_server_t *srv = NULL;
	if ((cfg.tls_cert[0] && prepare_tls(&cfg, cert, key, ca, sizeof cert)) ||
	    start_server(&priv, &cfg, cert, key, store, audit, server_key, &srv)) {
		OPENSSL_cleanse(server_key, sizeof server_key);
		km_audit_free(audit);
		km_store_close(store);
		return KM_EXIT_FAIL;
	}
	OPENSSL_cleanse(server_key, sizeof server_key);
	run(srv, &cfg, store, ca);
	km_server_free(srv);
	km_audit_free(audit); /* writes a signed checkpoint */
	km_store_close(store);
	km_info("serve", "stopped", "");
	return KM_EXIT_OK;
}

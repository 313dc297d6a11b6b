/* cmd_audit.c — `kamer audit verify|pubkey|checkpoint`: checks the audit
 * log's hash chains, head file and signed checkpoints; prints the
 * checkpoint verification key for the auditor; signs a checkpoint now.
 *
 * Threading: the main thread only. */
#include "cli/cli.h"
#include "core/err.h"
#include "core/fs.h"
#include "rooms/audit.h"
#include "rooms/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char help[] =
	"Usage: kamer audit verify [--pubkey FILE]\n"
	"       kamer audit pubkey\n"
	"       kamer audit checkpoint\n"
	"'verify' checks every row of the audit log in DATA/kamer.db against its hash\n"
	"chain and DATA/audit.head, and every signed checkpoint; with --pubkey (a copy\n"
	"of 'kamer audit pubkey' kept elsewhere) also each checkpoint's signature. It\n"
	"names the first bad row if any row was edited, deleted, inserted or reordered.\n"
	"'pubkey' prints the checkpoint verification key (PEM) for the auditor to keep.\n"
	"'checkpoint' signs the current head of every organisation's chain now.\n"
	"Common options: --data DIR, --config FILE, --log-level LEVEL, --help.\n"
	"Exit status: 0 intact/done, 1 broken or failed, 2 bad arguments.\n";

enum { OPT_PUBKEY = OPT_FIRST_CMD_OPT };

/* Opens DATA/kamer.db, which must exist (verify never creates one). */
static int open_existing(const char *cmd, const km_config_t *cfg, km_store_t **s)
{
	char db[KM_PATH_MAX + 16], err[512];
	struct stat st;
	km_fs_join(db, sizeof db, cfg->data_dir, "kamer.db");
	if (stat(db, &st) != 0) {
		fprintf(stderr, "kamer %s: no database at %s\n", cmd, db);
		return KM_EXIT_FAIL;
	}
	if (km_store_open(db, s, err, sizeof err)) {
		fprintf(stderr, "kamer %s: %s\n", cmd, err);
		return KM_EXIT_FAIL;
	}
	return KM_EXIT_OK;
}

static int verify(const char *cmd, const km_config_t *cfg, const char *pubkey)
{
	km_store_t *s;
	int rc = open_existing(cmd, cfg, &s);
	if (rc)
		return rc;
	char head[KM_PATH_MAX + 16];
	km_fs_join(head, sizeof head, cfg->data_dir, KM_AUDIT_HEAD_FILE);
	km_audit_report_t rep;
	rc = km_audit_verify(s, head, pubkey, &rep);
	km_store_close(s);
	if (rc == KM_EINVAL) {
		printf("audit log BROKEN: %s\n", rep.reason);
		if (rep.first_bad_seq)
			printf("first bad row: %" PRId64 "\n", rep.first_bad_seq);
		printf("rows checked: %" PRId64 ", organisations: %" PRId64 "\n", rep.rows, rep.orgs);
		return KM_EXIT_FAIL;
	}
	if (rc) {
		fprintf(stderr, "kamer %s: cannot verify (%s): %s\n", cmd, km_err_name(rc), rep.reason);
		return KM_EXIT_FAIL;
	}
	printf("rows checked:        %" PRId64 "\n", rep.rows);
	printf("organisations:       %" PRId64 "\n", rep.orgs);
	printf("checkpoints checked: %" PRId64 "%s\n", rep.checkpoints_ok,
	       pubkey ? " (signatures verified)" : " (signatures not checked: no --pubkey)");
	if (rep.unsigned_rows)
		printf("rows after the newest checkpoint: %" PRId64 " (covered by the chain and head file only)\n",
		       rep.unsigned_rows);
	if (rep.head_behind)
		printf("note: the head file is one row behind for some organisation (a crash after commit)\n");
	printf("audit log intact\n");
	return KM_EXIT_OK;
}

static int pubkey_print(const char *cmd, const km_config_t *cfg)
{
	char *pem = NULL, err[512];
	int rc = km_audit_pubkey_pem(cfg->data_dir, &pem, err, sizeof err);
	if (rc == KM_ENOTFOUND) {
		fprintf(stderr, "kamer %s: no signing key in %s yet (it is made by 'kamer serve' or the first "
				"'kamer admin' change)\n", cmd, cfg->data_dir);
		return KM_EXIT_FAIL;
	}
	if (rc) {
		fprintf(stderr, "kamer %s: %s\n", cmd, err);
		return KM_EXIT_FAIL;
	}
	fputs(pem, stdout);
	free(pem);
	return KM_EXIT_OK;
}

static int checkpoint(const char *cmd, const km_config_t *cfg)
{
	km_store_t *s;
	km_audit_t *a;
	char err[512];
	int rc = open_existing(cmd, cfg, &s);
	if (rc)
		return rc;
	umask(077);
	if (km_audit_open(s, cfg->data_dir, "cli", &a, err, sizeof err)) {
		fprintf(stderr, "kamer %s: audit log: %s\n", cmd, err);
		km_store_close(s);
		return KM_EXIT_FAIL;
	}
	rc = km_audit_checkpoint(a, time(NULL));
	km_audit_free(a);
	km_store_close(s);
	if (rc) {
		fprintf(stderr, "kamer %s: checkpoint failed (%s)\n", cmd, km_err_name(rc));
		return KM_EXIT_FAIL;
	}
	printf("checkpoint written\n");
	return KM_EXIT_OK;
}

int km_cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, 0, OPT_DATA },
		{ "config", required_argument, 0, OPT_CONFIG },
		{ "log-level", required_argument, 0, OPT_LOG_LEVEL },
		{ "help", no_argument, 0, OPT_HELP },
		{ "pubkey", required_argument, 0, OPT_PUBKEY },
		{ 0, 0, 0, 0 },
	};
	const char *verb = argc > 1 ? argv[1] : "";
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(help, stdout);
		return KM_EXIT_OK;
	}
	int which = strcmp(verb, "verify") == 0 ? 1 : strcmp(verb, "pubkey") == 0 ? 2
						     : strcmp(verb, "checkpoint") == 0 ? 3 : 0;
	if (!which) {
		if (!verb[0])
			fputs(help, stderr);
		return km_cli_usage_error("audit", "expected verify, pubkey or checkpoint");
	}
	char cmd[32], what[200];
	snprintf(cmd, sizeof cmd, "audit %s", verb);
	km_cli_flags_t fl = { 0 };
	const char *pubkey = NULL;
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(help, stdout);
			return KM_EXIT_OK;
		}
		if (opt == OPT_PUBKEY && which == 1) {
			pubkey = optarg;
			continue;
		}
		if (opt == OPT_LISTEN || !km_cli_common_opt(opt, optarg, &fl)) {
			snprintf(what, sizeof what, "unknown or incomplete option '%s'", argv[optind - 1]);
			return km_cli_usage_error(cmd, what);
		}
	}
	if (optind < argc)
		return km_cli_usage_error(cmd, "unexpected argument");
	km_config_t cfg;
	int rc = km_cli_load_config(&cfg, &fl, cmd);
	if (rc)
		return rc;
	if (which == 1)
		return verify(cmd, &cfg, pubkey);
	if (which == 2)
		return pubkey_print(cmd, &cfg);
	return checkpoint(cmd, &cfg);
}

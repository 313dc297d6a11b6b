/* cmd_purge.c — `kamer admin purge`: applies every organisation's retention
 * now (what `kamer serve` does at start and daily). */
#include "cli/cli.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/fs.h"
#include "rooms/retention.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
	"Usage: kamer admin purge [--data DIR] [--config FILE]\n"
	"Deletes what each organisation's retention policy allows: audit rows older\n"
	"than audit_retention_days (at least 2 years) and call-log and consent rows\n"
	"older than calllog_retention_days. Each purge is itself audited.\n";

int km_cmd_purge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, 0, OPT_DATA },
		{ "config", required_argument, 0, OPT_CONFIG },
		{ "help", no_argument, 0, OPT_HELP },
		{ 0, 0, 0, 0 },
	};
	km_cli_flags_t fl = { 0 };
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(help, stdout);
			return KM_EXIT_OK;
		}
		if (!km_cli_common_opt(opt, optarg, &fl)) {
			char what[160];
			snprintf(what, sizeof what, "unknown or incomplete option '%s'", argv[optind - 1]);
			return km_cli_usage_error("admin purge", what);
		}
	}
	if (optind < argc)
		return km_cli_usage_error("admin purge", "unexpected argument");
	umask(077);
	km_config_t cfg;
	int rc = km_cli_load_config(&cfg, &fl, "admin purge");
	if (rc)
		return rc;
	char err[512], db[KM_PATH_MAX + 16];
	km_fs_join(db, sizeof db, cfg.data_dir, "kamer.db");
	km_store_t *s;
	km_audit_t *a;
	if (km_store_open(db, &s, err, sizeof err)) {
		fprintf(stderr, "kamer admin purge: %s\n", err);
		return KM_EXIT_FAIL;
	}
	if (km_audit_open(s, cfg.data_dir, "cli", &a, err, sizeof err)) {
		fprintf(stderr, "kamer admin purge: audit log: %s\n", err);
		km_store_close(s);
		return KM_EXIT_FAIL;
	}
	km_retention_report_t rep;
	rc = km_retention_run(s, a, km_clock_now(), "cli", &rep);
	km_audit_free(a);
	km_store_close(s);
	printf("organisations: %lld, audit rows removed: %lld, call-log and consent rows removed: %lld\n",
	       (long long)rep.orgs, (long long)rep.audit_rows, (long long)rep.calllog_rows);
	if (rc) {
		fprintf(stderr, "kamer admin purge: failed for at least one organisation (%s)\n", km_err_name(rc));
		return KM_EXIT_FAIL;
	}
	return KM_EXIT_OK;
}

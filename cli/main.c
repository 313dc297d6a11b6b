/* main.c — the kamer binary: dispatches to subcommands. */
#include "cli/cli.h"

#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"kamer — secure video consults for healthcare\n"
	"\n"
	"Usage: kamer COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  serve          run the server (HTTPS, WSS, media)\n"
	"  config check   check the configuration and print the values in effect\n"
	"  admin org      create and list organisations; show and set their policy\n"
	"  admin user     add, list, disable, enable users; reset 2FA; new set-up link\n"
	"  audit          verify the audit log, print its public key, sign a checkpoint\n"
	"  version        print the version\n"
	"\n"
	"Every command takes --data DIR (env KAMER_DATA_DIR, default ./var),\n"
	"--config FILE (env KAMER_CONFIG, default DATA/kamer.conf) and --help.\n"
	"Documentation: docs/ (configuration.md, operations.md).\n";

/* The data folder a command names (--data DIR, --data=DIR, KAMER_DATA_DIR,
 * else ./var). */
static const char *data_dir(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--data=", 7) == 0)
			return argv[i] + 7;
	}
	const char *env = getenv("KAMER_DATA_DIR");
	return env && *env ? env : "./var";
}

/* Run as root, an operator command (admin, audit, config) works as the
 * owner of the data folder, so that nothing it writes there (the audit
 * head, a database journal) becomes root's and locks the server out. */
static int as_data_owner(int argc, char **argv)
{
	struct stat st;
	if (geteuid() != 0 || stat(data_dir(argc, argv), &st) != 0 || st.st_uid == 0)
		return 0;
	if (setgroups(0, NULL) != 0 || setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0 || setuid(0) == 0) {
		fprintf(stderr, "kamer: cannot switch to the owner (uid %u) of the data folder %s\n", (unsigned)st.st_uid,
			data_dir(argc, argv));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	umask(077); /* whatever any command creates is readable by its user only */
	if (argc < 2) {
		fputs(usage, stderr);
		return KM_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return KM_EXIT_OK;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		if (argc > 2 && strcmp(argv[2], "--help") == 0) {
			puts("Usage: kamer version\nPrints the version and the source revision.");
			return KM_EXIT_OK;
		}
		if (argc > 2)
			return km_cli_usage_error("version", "takes no arguments");
		printf("kamer %s (%s)\n", KM_VERSION, KM_GIT_REV);
		return KM_EXIT_OK;
	}
	if (strcmp(cmd, "serve") == 0)
		return km_cmd_serve(argc - 1, argv + 1);
	if ((strcmp(cmd, "config") == 0 || strcmp(cmd, "admin") == 0 || strcmp(cmd, "audit") == 0) &&
	    as_data_owner(argc, argv) != 0)
		return KM_EXIT_FAIL;
	if (strcmp(cmd, "config") == 0)
		return km_cmd_config(argc - 1, argv + 1);
	if (strcmp(cmd, "admin") == 0)
		return km_cmd_admin(argc - 1, argv + 1);
	if (strcmp(cmd, "audit") == 0)
		return km_cmd_audit(argc - 1, argv + 1);
	fprintf(stderr, "kamer: unknown command '%s'\n\n%s", cmd, usage);
	return KM_EXIT_USAGE;
}

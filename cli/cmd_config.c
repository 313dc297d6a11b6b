/* cmd_config.c — `kamer config check`: loads and validates the
 * configuration the way `kamer serve` would, and prints it. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
	"Usage: kamer config check [--data DIR] [--config FILE] [--listen ADDR:PORT]\n"
	"Loads the configuration (defaults, then the file, then KAMER_* variables,\n"
	"then flags), checks every value and prints the values in effect.\n"
	"Exit status: 0 valid, 2 invalid (the key, the value and why are printed).\n";

int km_cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, 0, OPT_DATA },
		{ "config", required_argument, 0, OPT_CONFIG },
		{ "listen", required_argument, 0, OPT_LISTEN },
		{ "log-level", required_argument, 0, OPT_LOG_LEVEL },
		{ "help", no_argument, 0, OPT_HELP },
		{ 0, 0, 0, 0 },
	};
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(help, argc < 2 ? stderr : stdout);
		return argc < 2 ? KM_EXIT_USAGE : KM_EXIT_OK;
	}
	if (strcmp(argv[1], "check") != 0)
		return km_cli_usage_error("config", "unknown subcommand (expected 'check')");
	km_cli_flags_t fl = { 0 };
	optind = 1;
	opterr = 0;
	int opt;
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(help, stdout);
			return KM_EXIT_OK;
		}
		if (!km_cli_common_opt(opt, optarg, &fl)) {
			char what[128];
			snprintf(what, sizeof what, "unknown or incomplete option '%s'", argv[optind - 1]);
			return km_cli_usage_error("config check", what);
		}
	}
	if (optind < argc)
		return km_cli_usage_error("config check", "unexpected argument");
	km_config_t cfg;
	int rc = km_cli_load_config(&cfg, &fl, "config check");
	if (rc)
		return rc;
	char val[KM_PATH_MAX], def[KM_PATH_MAX];
	const char *h, *k;
	for (int i = 0; (k = km_config_key(&cfg, i, val, sizeof val, def, sizeof def, &h)); i++)
		printf("%s = \"%s\"%s\n", k, val, strcmp(val, def) == 0 ? "" : "    # changed from the default");
	fprintf(stderr, "configuration is valid\n");
	return KM_EXIT_OK;
}

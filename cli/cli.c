/* cli.c — configuration load order and option helpers for subcommands. */
#include "cli/cli.h"

#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int km_cli_common_opt(int opt, const char *arg, km_cli_flags_t *fl)
{
	switch (opt) {
	case OPT_DATA: fl->data = arg; return 1;
	case OPT_CONFIG: fl->config = arg; return 1;
	case OPT_LOG_LEVEL: fl->log_level = arg; return 1;
	case OPT_LISTEN: fl->listen = arg; return 1;
	}
	return 0;
}

int km_cli_usage_error(const char *cmd, const char *what)
{
	fprintf(stderr, "kamer %s: %s\nTry 'kamer %s --help'.\n", cmd, what, cmd);
	return KM_EXIT_USAGE;
}

int km_cli_load_config(km_config_t *cfg, const km_cli_flags_t *fl, const char *cmd)
{
	char err[512];
	km_config_defaults(cfg);

	/* The data folder decides where the default config file is. */
	const char *data = fl->data ? fl->data : getenv("KAMER_DATA_DIR");
	const char *path = fl->config ? fl->config : getenv("KAMER_CONFIG");
	char def[KM_PATH_MAX + 16];
	int explicit = path != NULL;
	if (!path) {
		snprintf(def, sizeof def, "%s/kamer.conf", data ? data : cfg->data_dir);
		path = def;
	}
	char *text = NULL;
	size_t len = 0;
	int rc = km_fs_read_all(path, 1 << 20, &text, &len, err, sizeof err);
	if (rc == 0) {
		rc = km_config_parse(cfg, text, len, path, err, sizeof err);
		free(text);
		if (rc) {
			fprintf(stderr, "kamer %s: invalid configuration: %s\n", cmd, err);
			return KM_EXIT_USAGE;
		}
	} else if (rc != KM_ENOTFOUND || explicit) {
		fprintf(stderr, "kamer %s: %s\n", cmd, err);
		return KM_EXIT_FAIL;
	}
	if (km_config_apply_env(cfg, environ, err, sizeof err)) {
		fprintf(stderr, "kamer %s: invalid configuration: %s\n", cmd, err);
		return KM_EXIT_USAGE;
	}
	struct {
		const char *key, *val, *flag;
	} flags[] = {
		{ "data_dir", fl->data, "--data" },
		{ "log_level", fl->log_level, "--log-level" },
		{ "listen", fl->listen, "--listen" },
	};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		if (flags[i].val && km_config_set(cfg, flags[i].key, flags[i].val, flags[i].flag, err, sizeof err)) {
			fprintf(stderr, "kamer %s: invalid option: %s\n", cmd, err);
			return KM_EXIT_USAGE;
		}
	}
	if (km_config_validate(cfg, err, sizeof err)) {
		fprintf(stderr, "kamer %s: invalid configuration: %s\n", cmd, err);
		return KM_EXIT_USAGE;
	}
	km_log_set_level(cfg->log_level);
	return KM_EXIT_OK;
}

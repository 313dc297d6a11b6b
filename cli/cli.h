/* cli.h — shared pieces of kamer's subcommands: option handling and the
 * configuration load order (defaults < kamer.conf < KAMER_* < flags). */
#ifndef KM_CLI_H
#define KM_CLI_H

#include "core/config.h"

#include <getopt.h>

#define KM_EXIT_OK 0
#define KM_EXIT_FAIL 1
#define KM_EXIT_USAGE 2

/* Options every subcommand takes (values for getopt_long's `val`). */
enum { OPT_DATA = 1000, OPT_CONFIG, OPT_LOG_LEVEL, OPT_HELP, OPT_LISTEN, OPT_FIRST_CMD_OPT };

/* Flags given on the command line, applied after file and environment. */
typedef struct km_cli_flags {
	const char *data, *config, *log_level, *listen;
} km_cli_flags_t;

/* Handles a common option; returns 1 if it was one, 0 if not. */
int km_cli_common_opt(int opt, const char *arg, km_cli_flags_t *fl);

/* Loads the configuration in order: defaults, the config file (--config,
 * else KAMER_CONFIG, else DATA/kamer.conf if it exists), KAMER_* variables,
 * then flags; validates it. Prints the reason and returns KM_EXIT_USAGE on
 * an invalid value, KM_EXIT_FAIL if the file cannot be read. */
int km_cli_load_config(km_config_t *cfg, const km_cli_flags_t *fl, const char *cmd);

/* Prints "kamer CMD: unknown option" style errors; returns KM_EXIT_USAGE. */
int km_cli_usage_error(const char *cmd, const char *what);

int km_cmd_serve(int argc, char **argv);
int km_cmd_config(int argc, char **argv);
int km_cmd_purge(int argc, char **argv);
int km_cmd_admin(int argc, char **argv);
int km_cmd_audit(int argc, char **argv);

#endif

/* config.h — kamer's configuration: defaults, then the file (kamer.conf),
 * then KAMER_* environment variables, then command-line flags. Every value
 * is validated when it is set; an invalid one is refused with the key, the
 * value and why (never silently defaulted). Every key is listed in one table
 * (config.c) that also drives `kamer config check` and docs/configuration.md.
 * Not thread-safe while being filled; read-only afterwards. */
#ifndef KM_CONFIG_H
#define KM_CONFIG_H

#include <stddef.h>

#define KM_PATH_MAX 4096

typedef struct km_config {
	char data_dir[KM_PATH_MAX];
	char user[33];             /* service user `kamer serve` drops to when started as root */
	char listen_host[64];      /* numeric IPv4 or IPv6 address */
	int listen_port;
	char public_url[256];      /* "" = https://localhost:<port> */
	char tls_cert[KM_PATH_MAX]; /* "" = development certificate */
	char tls_key[KM_PATH_MAX];
	char web_dir[KM_PATH_MAX];
	int log_level;
	long http_max_body;
	long http_max_header;
	long http_rate_per_sec;
	long http_rate_burst;
	long max_connections;
	long max_connections_per_ip;
	long ws_max_message;
	int test_hooks;
	char smtp_url[256];        /* "" = emails go to DATA/outbox */
	char smtp_username[256];
	char smtp_password_file[KM_PATH_MAX];
	char smtp_ca_file[KM_PATH_MAX];
	char mail_from[256];       /* "" = noreply@<host of public_url> */
	char media_addresses[512]; /* comma-separated numeric addresses */
	long media_port_min, media_port_max; /* 0/0: any */
	long media_workers;        /* 0: one per core */
	long media_max_kbps;
} km_config_t;

/* Fills c with the built-in defaults. */
void km_config_defaults(km_config_t *c);

/* Sets one key from its text form, validating it. origin names where the
 * value came from ("kamer.conf:12", "KAMER_LISTEN", "--listen") for the
 * error message. Returns 0 or KM_EINVAL (unknown key or invalid value). */
int km_config_set(km_config_t *c, const char *key, const char *value, const char *origin,
		  char *err, size_t errlen);

/* Parses the text of a config file: `key = value` lines, `#` comments,
 * blank lines; values may be double-quoted. Pure: no I/O. name is used in
 * messages ("kamer.conf"). Stops at the first error. */
int km_config_parse(km_config_t *c, const char *text, size_t len, const char *name,
		    char *err, size_t errlen);

/* Applies KAMER_<KEY> variables from envp (NULL-terminated, like environ). */
int km_config_apply_env(km_config_t *c, char *const *envp, char *err, size_t errlen);

/* Checks relations between keys (tls_cert and tls_key together, ...). */
/* Splits media_addresses into out (up to max entries of 64 bytes); *n gets
 * the count. Returns 0 or KM_EINVAL (reason in err). */
int km_config_media_addresses(const km_config_t *c, char out[][64], size_t max, size_t *n, char *err,
			       size_t errlen);

int km_config_validate(const km_config_t *c, char *err, size_t errlen);

/* Iterates the keys: returns the i-th key name (NULL past the end) and
 * writes its current value as text into val, its default into def and a
 * one-line description into *help (static). */
const char *km_config_key(const km_config_t *c, int i, char *val, size_t vallen,
			  char *def, size_t deflen, const char **help);

#endif

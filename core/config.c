/* config.c — the key table, validation and the kamer.conf parser. Pure
 * functions over the struct and text buffers; no I/O. */
#include "core/config.h"

#include "core/err.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KM_WEB_DIR
#define KM_WEB_DIR "web"
#endif

enum kind { K_PATH, K_LISTEN, K_URL, K_LEVEL, K_LONG, K_BOOL, K_TEXT, K_SMTP, K_USER };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size;  /* for strings */
	long min, max; /* for numbers */
	const char *def;
	const char *help;
};

#define S(f) offsetof(km_config_t, f), sizeof(((km_config_t *)0)->f)
#define N(f) offsetof(km_config_t, f), 0

static const struct key keys[] = {
	{ "data_dir", K_PATH, S(data_dir), 0, 0, "./var",
	  "data folder: database, keys, certificates, outbox" },
	{ "listen", K_LISTEN, 0, 0, 0, 0, "127.0.0.1:8443",
	  "address and port for HTTPS and WSS (ADDR:PORT, [IPv6]:PORT)" },
	{ "public_url", K_URL, S(public_url), 0, 0, "",
	  "URL people use to reach kamer, used in emailed links (empty: https://localhost:PORT)" },
	{ "tls_cert", K_PATH, S(tls_cert), 0, 0, "",
	  "production certificate chain (PEM); empty: development certificate in DATA/certs" },
	{ "tls_key", K_PATH, S(tls_key), 0, 0, "", "private key of tls_cert (PEM)" },
	{ "web_dir", K_PATH, S(web_dir), 0, 0, KM_WEB_DIR, "folder of the browser client's files" },
	{ "log_level", K_LEVEL, 0, 0, 0, 0, "info", "debug, info, warn, error or off" },
	{ "user", K_USER, S(user), 0, 0, "kamer",
	  "user kamer serve switches to after opening its port when started as root (never stays root)" },
	{ "http_max_body", K_LONG, N(http_max_body), 1024, 16 << 20, "65536",
	  "largest request body accepted, in bytes" },
	{ "http_max_header", K_LONG, N(http_max_header), 1024, 65535, "8192",
	  "largest request header block accepted, in bytes" },
	{ "http_rate_per_sec", K_LONG, N(http_rate_per_sec), 1, 100000, "50",
	  "HTTP requests per second allowed from one IP address (token bucket rate)" },
	{ "http_rate_burst", K_LONG, N(http_rate_burst), 1, 100000, "200",
	  "HTTP requests one IP address may make in a burst" },
	{ "max_connections", K_LONG, N(max_connections), 16, 100000, "2048",
	  "open connections (HTTP and WSS) in all" },
	{ "max_connections_per_ip", K_LONG, N(max_connections_per_ip), 1, 100000, "128",
	  "open connections from one IP address" },
	{ "ws_max_message", K_LONG, N(ws_max_message), 256, 1 << 20, "65536",
	  "largest WSS message accepted, in bytes" },
	{ "test_hooks", K_BOOL, N(test_hooks), 0, 1, "false",
	  "enables /api/v1/test/* endpoints used by kamer's own tests; never in production" },
	{ "smtp_url", K_SMTP, S(smtp_url), 0, 0, "",
	  "SMTP server for invitation emails: smtp://HOST:587 (STARTTLS) or smtps://HOST:465; empty: DATA/outbox" },
	{ "smtp_username", K_TEXT, S(smtp_username), 0, 0, "", "SMTP user name (empty: no authentication)" },
	{ "smtp_password_file", K_PATH, S(smtp_password_file), 0, 0, "",
	  "file holding the SMTP password (keep it 0600; never put the password in this file)" },
	{ "smtp_ca_file", K_PATH, S(smtp_ca_file), 0, 0, "",
	  "CA certificates to check the SMTP server with (empty: the system's)" },
	{ "mail_from", K_TEXT, S(mail_from), 0, 0, "", "sender address of invitation emails (empty: noreply@HOST)" },
	{ "media_addresses", K_TEXT, S(media_addresses), 0, 0, "127.0.0.1",
	  "numeric IP addresses the SFU offers ICE candidates on, comma-separated (at most 8)" },
	{ "media_port_min", K_LONG, N(media_port_min), 0, 65535, "0",
	  "lowest UDP port for media (0 with media_port_max 0: any port the system gives)" },
	{ "media_port_max", K_LONG, N(media_port_max), 0, 65535, "0", "highest UDP port for media" },
	{ "media_workers", K_LONG, N(media_workers), 0, 64, "0", "media worker threads (0: one per CPU core)" },
	{ "media_max_kbps", K_LONG, N(media_max_kbps), 100, 20000, "2500",
	  "highest bitrate kamer lets a publisher send, in kbit/s (REMB)" },
};
#define NKEYS (int)(sizeof keys / sizeof keys[0])

static const struct key *find_key(const char *name)
{
	for (int i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int bad(char *err, size_t errlen, const char *origin, const char *key, const char *value,
	       const char *why)
{
	return km_errf(KM_EINVAL, err, errlen, "%s: %s = \"%.200s\": %s", origin, key, value, why);
}

static int parse_long(const char *s, long *out)
{
	if (!*s)
		return -1;
	errno = 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (errno || *end || !isdigit((unsigned char)s[0]))
		return -1;
	*out = v;
	return 0;
}

/* A POSIX-portable user name (what useradd accepts, without '$'). */
static int user_name_ok(const char *s)
{
	if (!*s || *s == '-')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return 0;
	return 1;
}

static int set_listen(km_config_t *c, const char *v, const char *origin, const char *key,
		      char *err, size_t errlen)
{
	char host[64];
	const char *colon;
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (!close || close[1] != ':')
			return bad(err, errlen, origin, key, v, "expected [IPv6]:PORT");
		size_t n = (size_t)(close - v - 1);
		if (n == 0 || n >= sizeof host)
			return bad(err, errlen, origin, key, v, "address empty or too long");
		memcpy(host, v + 1, n);
		host[n] = 0;
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon)
			return bad(err, errlen, origin, key, v, "expected ADDR:PORT");
		size_t n = (size_t)(colon - v);
		if (n == 0 || n >= sizeof host)
			return bad(err, errlen, origin, key, v, "address empty or too long");
		memcpy(host, v, n);
		host[n] = 0;
	}
	unsigned char buf[16];
	if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
		return bad(err, errlen, origin, key, v, "address is not a numeric IPv4 or IPv6 address");
	long port;
	if (parse_long(colon + 1, &port) != 0 || port < 1 || port > 65535)
		return bad(err, errlen, origin, key, v, "port must be a number from 1 to 65535");
	snprintf(c->listen_host, sizeof c->listen_host, "%s", host);
	c->listen_port = (int)port;
	return 0;
}

int km_config_set(km_config_t *c, const char *key, const char *value, const char *origin,
		  char *err, size_t errlen)
{
	const struct key *k = find_key(key);
	if (!k)
		return km_errf(KM_EINVAL, err, errlen, "%s: unknown key \"%.100s\"", origin, key);
	char *base = (char *)c;
	switch (k->kind) {
	case K_PATH:
	case K_URL:
	case K_TEXT:
	case K_SMTP:
	case K_USER:
		if (strlen(value) >= k->size)
			return bad(err, errlen, origin, key, value, "too long");
		for (const char *p = value; *p; p++)
			if ((unsigned char)*p < 0x20)
				return bad(err, errlen, origin, key, value, "contains a control character");
		if (k->kind == K_SMTP && value[0] && strncmp(value, "smtp://", 7) != 0 && strncmp(value, "smtps://", 8) != 0)
			return bad(err, errlen, origin, key, value, "must start with smtp:// (STARTTLS) or smtps://");
		if (k->kind == K_URL && value[0] && strncmp(value, "https://", 8) != 0)
			return bad(err, errlen, origin, key, value, "must start with https://");
		if (k->kind == K_URL && value[0] && (strlen(value) < 9 || value[strlen(value) - 1] == '/'))
			return bad(err, errlen, origin, key, value, "needs a host and no trailing slash");
		if (k->kind == K_USER && !user_name_ok(value))
			return bad(err, errlen, origin, key, value,
				   "must be a user name: letters, digits, '.', '_' or '-', not starting with '-'");
		if (k->kind == K_PATH && !value[0] && k->off == offsetof(km_config_t, data_dir))
			return bad(err, errlen, origin, key, value, "must not be empty");
		snprintf(base + k->off, k->size, "%s", value);
		return 0;
	case K_LISTEN:
		return set_listen(c, value, origin, key, err, errlen);
	case K_LEVEL: {
		int lv = km_log_level_parse(value);
		if (lv < 0)
			return bad(err, errlen, origin, key, value, "must be debug, info, warn, error or off");
		c->log_level = lv;
		return 0;
	}
	case K_LONG: {
		long v;
		if (parse_long(value, &v) != 0)
			return bad(err, errlen, origin, key, value, "not a whole number");
		if (v < k->min || v > k->max) {
			char why[96];
			snprintf(why, sizeof why, "must be from %ld to %ld", k->min, k->max);
			return bad(err, errlen, origin, key, value, why);
		}
		*(long *)(base + k->off) = v;
		return 0;
	}
	case K_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 || strcmp(value, "yes") == 0)
			*(int *)(base + k->off) = 1;
		else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 || strcmp(value, "no") == 0)
			*(int *)(base + k->off) = 0;
		else
			return bad(err, errlen, origin, key, value, "must be true or false");
		return 0;
	}
	return KM_EINVAL;
}

void km_config_defaults(km_config_t *c)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < NKEYS; i++) {
		int rc = km_config_set(c, keys[i].name, keys[i].def, "default", NULL, 0);
		(void)rc; /* the defaults are valid: config_test checks it */
	}
}

static const char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

static int parse_line(km_config_t *c, char *line, const char *origin, char *err, size_t errlen)
{
	char *hash = NULL;
	int inq = 0;
	for (char *p = line; *p; p++) {
		if (*p == '"')
			inq = !inq;
		else if (*p == '#' && !inq) {
			hash = p;
			break;
		}
	}
	if (hash)
		*hash = 0;
	const char *t = trim(line);
	if (!*t)
		return 0;
	char *eq = strchr(t, '=');
	if (!eq)
		return km_errf(KM_EINVAL, err, errlen, "%s: expected key = value", origin);
	*eq = 0;
	const char *key = trim((char *)t);
	char *val = (char *)trim(eq + 1);
	size_t vn = strlen(val);
	if (vn && val[0] == '"') {
		if (vn < 2 || val[vn - 1] != '"')
			return km_errf(KM_EINVAL, err, errlen, "%s: unterminated quoted value", origin);
		val[vn - 1] = 0;
		val++;
		if (strchr(val, '"'))
			return km_errf(KM_EINVAL, err, errlen, "%s: quote inside a quoted value", origin);
	}
	if (!*key)
		return km_errf(KM_EINVAL, err, errlen, "%s: missing key before =", origin);
	return km_config_set(c, key, val, origin, err, errlen);
}

int km_config_parse(km_config_t *c, const char *text, size_t len, const char *name,
		    char *err, size_t errlen)
{
	char line[8192];
	size_t i = 0;
	int lineno = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && text[j] != '\n')
			j++;
		lineno++;
		char origin[128];
		snprintf(origin, sizeof origin, "%.96s:%d", name, lineno);
		if (memchr(text + i, 0, j - i))
			return km_errf(KM_EINVAL, err, errlen, "%s: NUL byte in line", origin);
		if (j - i >= sizeof line)
			return km_errf(KM_EINVAL, err, errlen, "%s: line longer than %zu bytes", origin,
				       sizeof line - 1);
		memcpy(line, text + i, j - i);
		line[j - i] = 0;
		int rc = parse_line(c, line, origin, err, errlen);
		if (rc)
			return rc;
		i = j + 1;
	}
	return 0;
}

int km_config_apply_env(km_config_t *c, char *const *envp, char *err, size_t errlen)
{
	for (; envp && *envp; envp++) {
		const char *e = *envp;
		if (strncmp(e, "KAMER_", 6) != 0)
			continue;
		const char *eq = strchr(e, '=');
		if (!eq)
			continue;
		char name[64], var[80];
		size_t n = (size_t)(eq - e - 6);
		if (n >= sizeof name)
			continue;
		for (size_t k = 0; k < n; k++)
			name[k] = (char)tolower((unsigned char)e[6 + k]);
		name[n] = 0;
		if (!find_key(name))
			continue; /* KAMER_CONFIG and others are not keys */
		snprintf(var, sizeof var, "KAMER_%.60s", e + 6);
		var[6 + n] = 0;
		int rc = km_config_set(c, name, eq + 1, var, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int km_config_media_addresses(const km_config_t *c, char out[][64], size_t max, size_t *n, char *err,
			       size_t errlen)
{
	*n = 0;
	const char *p = c->media_addresses;
	while (*p) {
		size_t len = strcspn(p, ",");
		char a[64];
		unsigned char bin[16];
		while (len && (*p == ' ')) {
			p++;
			len--;
		}
		if (len == 0 || len >= sizeof a)
			return km_errf(KM_EINVAL, err, errlen, "media_addresses = \"%.100s\": an empty or too long entry",
				       c->media_addresses);
		memcpy(a, p, len);
		a[len] = 0;
		while (len && a[len - 1] == ' ')
			a[--len] = 0;
		if (inet_pton(AF_INET, a, bin) != 1 && inet_pton(AF_INET6, a, bin) != 1)
			return km_errf(KM_EINVAL, err, errlen, "media_addresses: \"%.64s\" is not a numeric IP address", a);
		if (*n == max)
			return km_errf(KM_EINVAL, err, errlen, "media_addresses: more than %zu addresses", max);
		memcpy(out[(*n)++], a, len + 1);
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	if (*n == 0)
		return km_errf(KM_EINVAL, err, errlen, "media_addresses is empty (give at least one address)");
	return 0;
}

int km_config_validate(const km_config_t *c, char *err, size_t errlen)
{
	char addrs[8][64];
	size_t naddrs;
	int rc = km_config_media_addresses(c, addrs, 8, &naddrs, err, errlen);
	if (rc)
		return rc;
	if (!c->tls_cert[0] != !c->tls_key[0])
		return km_errf(KM_EINVAL, err, errlen,
			       "tls_cert and tls_key must be set together (tls_cert = \"%.100s\", tls_key = \"%.100s\")",
			       c->tls_cert, c->tls_key);
	if (c->http_rate_burst < c->http_rate_per_sec)
		return km_errf(KM_EINVAL, err, errlen, "http_rate_burst (%ld) must be at least http_rate_per_sec (%ld)",
			       c->http_rate_burst, c->http_rate_per_sec);
	if (c->smtp_username[0] && !c->smtp_password_file[0])
		return km_errf(KM_EINVAL, err, errlen, "smtp_username needs smtp_password_file");
	if (c->max_connections_per_ip > c->max_connections)
		return km_errf(KM_EINVAL, err, errlen,
			       "max_connections_per_ip (%ld) must not exceed max_connections (%ld)",
			       c->max_connections_per_ip, c->max_connections);
	if (c->media_port_min > c->media_port_max || (c->media_port_min == 0) != (c->media_port_max == 0))
		return km_errf(KM_EINVAL, err, errlen,
			       "media_port_min (%ld) and media_port_max (%ld) must both be 0, or form a range", c->media_port_min,
			       c->media_port_max);
	return 0;
}

const char *km_config_key(const km_config_t *c, int i, char *val, size_t vallen,
			  char *def, size_t deflen, const char **help)
{
	if (i < 0 || i >= NKEYS)
		return NULL;
	const struct key *k = &keys[i];
	const char *base = (const char *)c;
	switch (k->kind) {
	case K_PATH:
	case K_URL:
	case K_TEXT:
	case K_SMTP:
	case K_USER:
		snprintf(val, vallen, "%s", base + k->off);
		break;
	case K_LISTEN:
		if (strchr(c->listen_host, ':'))
			snprintf(val, vallen, "[%s]:%d", c->listen_host, c->listen_port);
		else
			snprintf(val, vallen, "%s:%d", c->listen_host, c->listen_port);
		break;
	case K_LEVEL: {
		static const char *const names[] = { "debug", "info", "warn", "error", "off" };
		snprintf(val, vallen, "%s", names[c->log_level]);
		break;
	}
	case K_LONG:
		snprintf(val, vallen, "%ld", *(const long *)(base + k->off));
		break;
	case K_BOOL:
		snprintf(val, vallen, "%s", *(const int *)(base + k->off) ? "true" : "false");
		break;
	}
	snprintf(def, deflen, "%s", k->def);
	if (help)
		*help = k->help;
	return k->name;
}

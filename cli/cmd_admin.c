/* cmd_admin.c — `kamer admin org|user ...`: the operator's command line for
 * organisations, their policy and user accounts. Every change commits
 * together with its audit row (actor operator/cli; objects by id, never a
 * name or email), so that nothing is half-written. Arguments are checked
 * before anything is written; bad ones exit 2.
 *
 * Threading: the main thread only. */
#include "cli/cli.h"
#include "core/err.h"
#include "core/fs.h"
#include "rooms/accounts.h"
#include "rooms/audit.h"
#include "rooms/store.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char help_admin[] =
	"Usage: kamer admin org|user COMMAND [OPTIONS] [--data DIR] [--config FILE]\n"
	"       kamer admin purge [--data DIR]\n"
	"Manages organisations, their policy and user accounts (see 'kamer admin org --help'\n"
	"and 'kamer admin user --help'), and applies the retention policy now ('purge').\n"
	"Every change is written to the audit log.\n";

static const char help_org[] =
	"Usage: kamer admin org create NAME\n"
	"       kamer admin org list\n"
	"       kamer admin org policy ORG [--set KEY=VALUE ...]\n"
	"ORG is an organisation's name or id. 'create' prints the new id. 'policy'\n"
	"shows the policy, or with --set checks every value and then changes them\n"
	"all at once (nothing is written if one is wrong).\n"
	"Common options: --data DIR, --config FILE, --log-level LEVEL, --help.\n"
	"Exit status: 0 done, 1 failed (name taken, not found, store error), 2 bad arguments.\n";

static const char help_user[] =
	"Usage: kamer admin user add --org ORG --role admin|clinician --email EMAIL\n"
	"       kamer admin user list --org ORG\n"
	"       kamer admin user disable|enable|reset-2fa|setup-link (--email EMAIL | --id N)\n"
	"'add' and 'setup-link' print a one-time set-up link, valid 24 hours, with\n"
	"which the user sets a (new) password; send it over a trusted channel.\n"
	"'disable' ends the user's sessions at once; 'reset-2fa' removes the second\n"
	"factor and the recovery codes (the user enrols again at the next sign-in).\n"
	"Common options: --data DIR, --config FILE, --log-level LEVEL, --help.\n"
	"Exit status: 0 done, 1 failed (email taken, not found, store error), 2 bad arguments.\n";

enum { OPT_ORG = OPT_FIRST_CMD_OPT, OPT_ROLE, OPT_EMAIL, OPT_ID, OPT_SET };
#define BIT(o) (1u << ((o) - OPT_FIRST_CMD_OPT))
#define MAX_SETS 32

typedef struct args {
	km_cli_flags_t fl;
	const char *org, *role, *email, *id;
	const char *sets[MAX_SETS];
	int nsets;
	const char *pos[2];
	int npos;
	unsigned given;
} args_t;

typedef struct ctx {
	const char *cmd; /* "admin user add", for messages */
	km_config_t cfg;
	km_store_t *store;
	km_audit_t *audit;
} ctx_t;

/* Parses argv (argv[0] is the verb). Returns -1 to go on, else the exit code. */
static int parse(const char *cmd, const char *help, int argc, char **argv, unsigned allowed, int npos,
		 args_t *a)
{
	static const struct option opts[] = {
		{ "data", required_argument, 0, OPT_DATA },
		{ "config", required_argument, 0, OPT_CONFIG },
		{ "log-level", required_argument, 0, OPT_LOG_LEVEL },
		{ "help", no_argument, 0, OPT_HELP },
		{ "org", required_argument, 0, OPT_ORG },
		{ "role", required_argument, 0, OPT_ROLE },
		{ "email", required_argument, 0, OPT_EMAIL },
		{ "id", required_argument, 0, OPT_ID },
		{ "set", required_argument, 0, OPT_SET },
		{ 0, 0, 0, 0 },
	};
	char what[200];
	memset(a, 0, sizeof *a);
	optind = 1;
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == OPT_HELP) {
			fputs(help, stdout);
			return KM_EXIT_OK;
		}
		if (opt != OPT_LISTEN && km_cli_common_opt(opt, optarg, &a->fl))
			continue;
		if (opt < OPT_FIRST_CMD_OPT || opt > OPT_SET) {
			snprintf(what, sizeof what, "unknown or incomplete option '%s'", argv[optind - 1]);
			return km_cli_usage_error(cmd, what);
		}
		if (!(allowed & BIT(opt))) {
			snprintf(what, sizeof what, "option '%s' does not apply here", argv[optind - 1]);
			return km_cli_usage_error(cmd, what);
		}
		if ((a->given & BIT(opt)) && opt != OPT_SET) {
			snprintf(what, sizeof what, "option '%s' given twice", argv[optind - 1]);
			return km_cli_usage_error(cmd, what);
		}
		a->given |= BIT(opt);
		switch (opt) {
		case OPT_ORG: a->org = optarg; break;
		case OPT_ROLE: a->role = optarg; break;
		case OPT_EMAIL: a->email = optarg; break;
		case OPT_ID: a->id = optarg; break;
		case OPT_SET:
			if (a->nsets == MAX_SETS)
				return km_cli_usage_error(cmd, "too many --set options");
			a->sets[a->nsets++] = optarg;
			break;
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos == npos) {
			snprintf(what, sizeof what, "unexpected argument '%.100s'", argv[optind]);
			return km_cli_usage_error(cmd, what);
		}
		a->pos[a->npos++] = argv[optind];
	}
	if (a->npos < npos)
		return km_cli_usage_error(cmd, "missing argument");
	return -1;
}

/* Loads the configuration and opens the store (and, to write, the audit
 * log) in the data folder, which is made (0700) if missing. */
static int ctx_open(ctx_t *c, const args_t *a, int write)
{
	char err[512], db[KM_PATH_MAX + 16];
	umask(077);
	int rc = km_cli_load_config(&c->cfg, &a->fl, c->cmd);
	if (rc)
		return rc;
	if (km_fs_mkdirs(c->cfg.data_dir, 0700, err, sizeof err)) {
		fprintf(stderr, "kamer %s: %s\n", c->cmd, err);
		return KM_EXIT_FAIL;
	}
	km_fs_join(db, sizeof db, c->cfg.data_dir, "kamer.db");
	if (km_store_open(db, &c->store, err, sizeof err)) {
		fprintf(stderr, "kamer %s: %s\n", c->cmd, err);
		return KM_EXIT_FAIL;
	}
	if (write && km_audit_open(c->store, c->cfg.data_dir, "cli", &c->audit, err, sizeof err)) {
		fprintf(stderr, "kamer %s: audit log: %s\n", c->cmd, err);
		return KM_EXIT_FAIL;
	}
	return KM_EXIT_OK;
}

static int ctx_close(ctx_t *c, int code)
{
	km_audit_free(c->audit);
	km_store_close(c->store);
	return code;
}

static int store_failed(ctx_t *c, const char *what, int rc)
{
	fprintf(stderr, "kamer %s: %s failed (%s): %s\n", c->cmd, what, km_err_name(rc),
		c->store ? km_store_errmsg(c->store) : "");
	return KM_EXIT_FAIL;
}

/* Appends the operator's audit row for a change in the open transaction and
 * commits both (rc != 0: rolls back). Returns 0 or the error. */
static int finish(ctx_t *c, int rc, int64_t org, const char *action, const char *otype, int64_t oid,
		  const char *detail)
{
	char id[24];
	snprintf(id, sizeof id, "%" PRId64, oid);
	km_audit_event_t ev = {
		.org_id = org, .action = action, .outcome = "success", .actor_type = "operator",
		.actor_id = "cli", .actor_role = "operator", .object_type = otype, .object_id = id,
		.client_ip = "", .detail = detail,
	};
	if (rc == 0)
		rc = km_audit_append_in_tx(c->audit, &ev, NULL);
	rc = km_accounts_tx_end(c->store, rc);
	if (rc == 0) {
		if (km_audit_after_commit(c->audit))
			fprintf(stderr, "kamer %s: warning: the audit head file could not be written\n", c->cmd);
	} else {
		km_audit_after_rollback(c->audit);
	}
	return rc;
}

static int find_org(ctx_t *c, const char *ref, km_org_t *o)
{
	int rc = km_accounts_org_find(c->store, ref, o);
	if (rc == KM_ENOTFOUND || rc == KM_EINVAL) {
		fprintf(stderr, "kamer %s: no organisation '%s' (see 'kamer admin org list')\n", c->cmd, ref);
		return KM_EXIT_FAIL;
	}
	return rc ? store_failed(c, "finding the organisation", rc) : KM_EXIT_OK;
}

static void utc(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(buf, len, "%" PRId64, t);
}

/* ---- org ---- */

static int org_create(ctx_t *c, const args_t *a)
{
	int rc = ctx_open(c, a, 1);
	if (rc)
		return rc;
	int64_t id = 0;
	if ((rc = km_accounts_tx_begin(c->store)) == 0) {
		rc = km_accounts_org_create(c->store, a->pos[0], time(NULL), &id);
		rc = finish(c, rc, id, "org.create", "org", id, NULL);
	}
	if (rc == KM_EINVAL) {
		fprintf(stderr, "kamer %s: invalid name: 1 to 100 bytes of text, no control characters, "
				"not only digits\n", c->cmd);
		return KM_EXIT_USAGE;
	}
	if (rc == KM_EEXIST) {
		fprintf(stderr, "kamer %s: an organisation named '%s' already exists\n", c->cmd, a->pos[0]);
		return KM_EXIT_FAIL;
	}
	if (rc)
		return store_failed(c, "creating the organisation", rc);
	printf("%" PRId64 "\n", id);
	fprintf(stderr, "organisation %" PRId64 " created, with the default policy\n", id);
	return KM_EXIT_OK;
}

static int org_list(ctx_t *c, const args_t *a)
{
	int rc = ctx_open(c, a, 0);
	if (rc)
		return rc;
	km_org_t *list;
	size_t n;
	if ((rc = km_accounts_org_list(c->store, &list, &n)))
		return store_failed(c, "listing organisations", rc);
	printf("%-6s %-20s %s\n", "ID", "CREATED", "NAME");
	for (size_t i = 0; i < n; i++) {
		char when[40];
		utc(list[i].created_at, when, sizeof when);
		printf("%-6" PRId64 " %-20s %s\n", list[i].id, when, list[i].name);
	}
	free(list);
	return KM_EXIT_OK;
}

static void policy_print(km_policy_t *p)
{
	km_policy_t def;
	km_policy_defaults(&def);
	long *v, *d, mn, mx;
	const char *name;
	for (int i = 0; (name = km_policy_field(p, i, &v, &mn, &mx)); i++) {
		km_policy_field(&def, i, &d, NULL, NULL);
		printf("%-24s = %-6ld # %ld..%ld, default %ld%s\n", name, *v, mn, mx, *d,
		       *v == *d ? "" : " (changed)");
	}
}

/* Applies every KEY=VALUE to p; on the first bad one prints why and
 * returns KM_EXIT_USAGE. detail gets "key:old->new,..." of the changes. */
static int policy_apply(ctx_t *c, const args_t *a, km_policy_t *p, char *detail, size_t dlen)
{
	km_policy_t old = *p;
	char key[64], err[160];
	size_t used = 0;
	detail[0] = 0;
	for (int i = 0; i < a->nsets; i++) {
		const char *eq = strchr(a->sets[i], '=');
		size_t klen = eq ? (size_t)(eq - a->sets[i]) : 0;
		char *end;
		errno = 0;
		long val = eq ? strtol(eq + 1, &end, 10) : 0;
		if (!eq || klen == 0 || klen >= sizeof key || !eq[1] || *end || errno) {
			fprintf(stderr, "kamer %s: --set '%.100s': expected KEY=NUMBER; nothing was changed\n", c->cmd,
				a->sets[i]);
			return KM_EXIT_USAGE;
		}
		memcpy(key, a->sets[i], klen);
		key[klen] = 0;
		if (km_policy_set(p, key, val, err, sizeof err)) {
			fprintf(stderr, "kamer %s: %s; nothing was changed\n", c->cmd, err);
			return KM_EXIT_USAGE;
		}
	}
	long *nv, *ov;
	const char *name;
	for (int i = 0; (name = km_policy_field(p, i, &nv, NULL, NULL)); i++) {
		km_policy_field(&old, i, &ov, NULL, NULL);
		if (*nv != *ov && used < dlen)
			used += (size_t)snprintf(detail + used, dlen - used, "%s%s:%ld->%ld", used ? "," : "", name,
						 *ov, *nv);
	}
	return KM_EXIT_OK;
}

static int org_policy(ctx_t *c, const args_t *a)
{
	int rc = ctx_open(c, a, a->nsets > 0);
	km_org_t o;
	km_policy_t p;
	if (rc || (rc = find_org(c, a->pos[0], &o)))
		return rc;
	if ((rc = km_accounts_policy_get(c->store, o.id, &p)))
		return store_failed(c, "reading the policy", rc);
	if (a->nsets == 0) {
		printf("# policy of organisation %" PRId64 " (%s)\n", o.id, o.name);
		policy_print(&p);
		return KM_EXIT_OK;
	}
	char detail[KM_AUDIT_DETAIL_MAX];
	if ((rc = policy_apply(c, a, &p, detail, sizeof detail)))
		return rc;
	if (!detail[0]) {
		fprintf(stderr, "kamer %s: no change\n", c->cmd);
		return KM_EXIT_OK;
	}
	if ((rc = km_accounts_tx_begin(c->store)) == 0) {
		rc = km_accounts_policy_put(c->store, o.id, &p);
		rc = finish(c, rc, o.id, "policy.change", "policy", o.id, detail);
	}
	if (rc)
		return store_failed(c, "changing the policy", rc);
	fprintf(stderr, "policy of organisation %" PRId64 " changed: %s\n", o.id, detail);
	policy_print(&p);
	return KM_EXIT_OK;
}

/* ---- user ---- */

static void print_link(ctx_t *c, int64_t uid, const char *token)
{
	char when[40];
	utc((int64_t)time(NULL) + 24 * 3600, when, sizeof when);
	printf("Set-up link for user %" PRId64 " (works once, valid 24 hours, until %s):\n", uid, when);
	if (c->cfg.public_url[0])
		printf("  %s/setup#%s\n", c->cfg.public_url, token);
	else
		printf("  https://localhost:%d/setup#%s\n", c->cfg.listen_port, token);
	printf("Send it to the user over a trusted channel.\n");
}

static int role_valid(const char *r)
{
	return strcmp(r, "admin") == 0 || strcmp(r, "clinician") == 0;
}

static int user_add(ctx_t *c, const args_t *a)
{
	const char *missing = !a->org ? "--org" : !a->role ? "--role" : !a->email ? "--email" : NULL;
	char what[200];
	if (missing) {
		snprintf(what, sizeof what, "missing %s (add needs --org, --role and --email)", missing);
		return km_cli_usage_error(c->cmd, what);
	}
	if (!role_valid(a->role))
		return km_cli_usage_error(c->cmd, "--role must be admin or clinician");
	if (!km_accounts_email_valid(a->email))
		return km_cli_usage_error(c->cmd, "--email is not a valid email address");
	int rc = ctx_open(c, a, 1);
	km_org_t o;
	if (rc || (rc = find_org(c, a->org, &o)))
		return rc;
	int64_t id = 0;
	char token[KM_TOKEN_LEN], detail[40];
	snprintf(detail, sizeof detail, "role=%s", a->role);
	if ((rc = km_accounts_tx_begin(c->store)) == 0) {
		rc = km_accounts_user_add(c->store, o.id, a->email, a->role, time(NULL), &id, token);
		rc = finish(c, rc, o.id, "user.create", "user", id, detail);
	}
	if (rc == KM_EEXIST) {
		fprintf(stderr, "kamer %s: a user with this email already exists\n", c->cmd);
		return KM_EXIT_FAIL;
	}
	if (rc)
		return store_failed(c, "adding the user", rc);
	printf("User %" PRId64 " added to organisation %" PRId64 " as %s.\n", id, o.id, a->role);
	print_link(c, id, token);
	OPENSSL_cleanse(token, sizeof token);
	return KM_EXIT_OK;
}

static const char *user_state(const km_user_t *u, int64_t now)
{
	return u->disabled ? "disabled" : u->locked_until > now ? "locked" : !u->pw_hash[0] ? "no password yet"
											    : "active";
}

static int user_list(ctx_t *c, const args_t *a)
{
	if (!a->org)
		return km_cli_usage_error(c->cmd, "missing --org");
	int rc = ctx_open(c, a, 0);
	km_org_t o;
	if (rc || (rc = find_org(c, a->org, &o)))
		return rc;
	km_user_t *list;
	size_t n;
	if ((rc = km_accounts_user_list(c->store, o.id, &list, &n)))
		return store_failed(c, "listing users", rc);
	int64_t now = time(NULL);
	printf("%-6s %-10s %-16s %-4s %s\n", "ID", "ROLE", "STATE", "2FA", "EMAIL");
	for (size_t i = 0; i < n; i++)
		printf("%-6" PRId64 " %-10s %-16s %-4s %s\n", list[i].id, list[i].role, user_state(&list[i], now),
		       list[i].totp_len ? "yes" : "no", list[i].email);
	free(list);
	return KM_EXIT_OK;
}

/* Finds the user named by --email or --id (exactly one of them). */
static int find_user(ctx_t *c, const args_t *a, km_user_t *u)
{
	int rc;
	if (a->email) {
		rc = km_accounts_user_by_email(c->store, a->email, u);
	} else {
		char *end;
		errno = 0;
		long long id = strtoll(a->id, &end, 10);
		rc = *end || errno || id <= 0 ? KM_ENOTFOUND : km_accounts_user_get(c->store, id, u);
	}
	if (rc == KM_ENOTFOUND) {
		fprintf(stderr, "kamer %s: no such user\n", c->cmd);
		return KM_EXIT_FAIL;
	}
	return rc ? store_failed(c, "finding the user", rc) : KM_EXIT_OK;
}

/* disable, enable, reset-2fa, setup-link. */
static int user_change(ctx_t *c, const args_t *a, const char *verb)
{
	if (!a->email == !a->id)
		return km_cli_usage_error(c->cmd, "give exactly one of --email EMAIL or --id N");
	if (a->id && (!a->id[0] || strspn(a->id, "0123456789") != strlen(a->id)))
		return km_cli_usage_error(c->cmd, "--id must be a number");
	int rc = ctx_open(c, a, 1);
	km_user_t u;
	if (rc || (rc = find_user(c, a, &u)))
		return rc;
	int disable = strcmp(verb, "disable") == 0, enable = strcmp(verb, "enable") == 0;
	if ((disable || enable) && u.disabled == disable) {
		fprintf(stderr, "kamer %s: user %" PRId64 " is already %s\n", c->cmd, u.id,
			disable ? "disabled" : "enabled");
		return KM_EXIT_OK;
	}
	if (strcmp(verb, "setup-link") == 0 && u.disabled) {
		fprintf(stderr, "kamer %s: user %" PRId64 " is disabled; enable it first\n", c->cmd, u.id);
		return KM_EXIT_FAIL;
	}
	char token[KM_TOKEN_LEN] = "";
	const char *action;
	if ((rc = km_accounts_tx_begin(c->store)) == 0) {
		if (disable || enable) {
			action = disable ? "user.disable" : "user.enable";
			rc = km_accounts_user_set_disabled(c->store, u.id, disable);
		} else if (strcmp(verb, "reset-2fa") == 0) {
			action = "user.2fa_reset";
			rc = km_accounts_user_reset_2fa(c->store, u.id);
		} else {
			action = "user.setup_link";
			rc = km_accounts_setup_link_new(c->store, u.id, time(NULL), token);
		}
		rc = finish(c, rc, u.org_id, action, "user", u.id, NULL);
	}
	if (rc)
		return store_failed(c, verb, rc);
	if (disable)
		printf("User %" PRId64 " disabled; their sessions were ended.\n", u.id);
	else if (enable)
		printf("User %" PRId64 " enabled.\n", u.id);
	else if (!token[0])
		printf("Second factor of user %" PRId64 " removed, with the recovery codes and sessions; "
		       "they enrol again at the next sign-in.\n", u.id);
	else
		print_link(c, u.id, token);
	OPENSSL_cleanse(token, sizeof token);
	return KM_EXIT_OK;
}

static int run_org(int argc, char **argv)
{
	ctx_t c = { 0 };
	args_t a;
	const char *verb = argc > 1 ? argv[1] : "";
	char cmd[64];
	snprintf(cmd, sizeof cmd, "admin org %.20s", verb);
	c.cmd = cmd;
	int rc;
	if (strcmp(verb, "create") == 0) {
		if ((rc = parse(cmd, help_org, argc - 1, argv + 1, 0, 1, &a)) >= 0)
			return rc;
		return ctx_close(&c, org_create(&c, &a));
	}
	if (strcmp(verb, "list") == 0) {
		if ((rc = parse(cmd, help_org, argc - 1, argv + 1, 0, 0, &a)) >= 0)
			return rc;
		return ctx_close(&c, org_list(&c, &a));
	}
	if (strcmp(verb, "policy") == 0) {
		if ((rc = parse(cmd, help_org, argc - 1, argv + 1, BIT(OPT_SET), 1, &a)) >= 0)
			return rc;
		return ctx_close(&c, org_policy(&c, &a));
	}
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(help_org, stdout);
		return KM_EXIT_OK;
	}
	if (!verb[0])
		fputs(help_org, stderr);
	return km_cli_usage_error("admin org", "expected create, list or policy");
}

static int run_user(int argc, char **argv)
{
	static const char *const changes[] = { "disable", "enable", "reset-2fa", "setup-link" };
	ctx_t c = { 0 };
	args_t a;
	const char *verb = argc > 1 ? argv[1] : "";
	char cmd[64];
	snprintf(cmd, sizeof cmd, "admin user %.20s", verb);
	c.cmd = cmd;
	int rc;
	if (strcmp(verb, "add") == 0) {
		if ((rc = parse(cmd, help_user, argc - 1, argv + 1, BIT(OPT_ORG) | BIT(OPT_ROLE) | BIT(OPT_EMAIL), 0,
				&a)) >= 0)
			return rc;
		return ctx_close(&c, user_add(&c, &a));
	}
	if (strcmp(verb, "list") == 0) {
		if ((rc = parse(cmd, help_user, argc - 1, argv + 1, BIT(OPT_ORG), 0, &a)) >= 0)
			return rc;
		return ctx_close(&c, user_list(&c, &a));
	}
	for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
		if (strcmp(verb, changes[i]) != 0)
			continue;
		if ((rc = parse(cmd, help_user, argc - 1, argv + 1, BIT(OPT_EMAIL) | BIT(OPT_ID), 0, &a)) >= 0)
			return rc;
		return ctx_close(&c, user_change(&c, &a, verb));
	}
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(help_user, stdout);
		return KM_EXIT_OK;
	}
	if (!verb[0])
		fputs(help_user, stderr);
	return km_cli_usage_error("admin user", "expected add, list, disable, enable, reset-2fa or setup-link");
}

int km_cmd_admin(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	if (strcmp(what, "org") == 0)
		return run_org(argc - 1, argv + 1);
	if (strcmp(what, "user") == 0)
		return run_user(argc - 1, argv + 1);
	if (strcmp(what, "purge") == 0)
		return km_cmd_purge(argc - 1, argv + 1);
	if (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0) {
		fputs(help_admin, stdout);
		return KM_EXIT_OK;
	}
	if (!what[0])
		fputs(help_admin, stderr);
	return km_cli_usage_error("admin", "expected 'org', 'user' or 'purge'");
}

/* accounts_test.c — organisations, policy, users, set-up links, lockout,
 * TOTP replay, recovery codes and sessions in a real store in a temporary
 * folder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "rooms/accounts.h"
#include "rooms/codes.h"
#include "rooms/store.h"
#include "rooms/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1700000000

typedef struct {
	char dir[256], db[300];
	km_store_t *s;
	int64_t org, org2;
} fx_t;

static int setup(void **state)
{
	fx_t *f = calloc(1, sizeof *f);
	char err[256];
	snprintf(f->dir, sizeof f->dir, "/tmp/kamer-accounts-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof f->db, "%s/kamer.db", f->dir);
	if (km_store_open(f->db, &f->s, err, sizeof err) != 0)
		return -1;
	if (km_accounts_org_create(f->s, "Huisartsen Noord", T0, &f->org) ||
	    km_accounts_org_create(f->s, "Kliniek Zuid", T0, &f->org2))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_t *f = *state;
	char cmd[400];
	km_store_close(f->s);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static int64_t add_user(fx_t *f, int64_t org, const char *email, const char *role)
{
	int64_t id = 0;
	char tok[KM_TOKEN_LEN];
	assert_int_equal(km_accounts_user_add(f->s, org, email, role, T0, &id, tok), 0);
	assert_int_equal(strlen(tok), 43);
	return id;
}

static long count_rows(fx_t *f, const char *sql)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(f->s->db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_orgs(void **state)
{
	fx_t *f = *state;
	km_org_t o;
	int64_t id;
	assert_true(f->org > 0 && f->org2 > f->org);
	assert_int_equal(km_accounts_org_create(f->s, "Huisartsen Noord", T0, &id), KM_EEXIST);
	assert_int_equal(km_accounts_org_create(f->s, "", T0, &id), KM_EINVAL);
	assert_int_equal(km_accounts_org_create(f->s, "bad\nname", T0, &id), KM_EINVAL);
	assert_int_equal(km_accounts_org_create(f->s, "12345", T0, &id), KM_EINVAL);
	assert_int_equal(km_accounts_org_create(f->s, "bad \xff utf8", T0, &id), KM_EINVAL);
	char longname[120];
	memset(longname, 'a', 101);
	longname[101] = 0;
	assert_int_equal(km_accounts_org_create(f->s, longname, T0, &id), KM_EINVAL);
	longname[100] = 0;
	assert_int_equal(km_accounts_org_create(f->s, longname, T0, &id), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM orgs"), 3);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM org_policy"), 3);

	assert_int_equal(km_accounts_org_find(f->s, "Kliniek Zuid", &o), 0);
	assert_int_equal(o.id, f->org2);
	assert_string_equal(o.name, "Kliniek Zuid");
	assert_int_equal(o.created_at, T0);
	char ref[32];
	snprintf(ref, sizeof ref, "%lld", (long long)f->org);
	assert_int_equal(km_accounts_org_find(f->s, ref, &o), 0);
	assert_string_equal(o.name, "Huisartsen Noord");
	assert_int_equal(km_accounts_org_find(f->s, "kliniek zuid", &o), KM_ENOTFOUND);
	assert_int_equal(km_accounts_org_find(f->s, "999", &o), KM_ENOTFOUND);
	assert_int_equal(km_accounts_org_get(f->s, f->org2, &o), 0);
	assert_string_equal(o.name, "Kliniek Zuid");
	assert_int_equal(km_accounts_org_get(f->s, 999, &o), KM_ENOTFOUND);

	km_org_t *list;
	size_t n;
	assert_int_equal(km_accounts_org_list(f->s, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(list[0].id, f->org);
	assert_string_equal(list[1].name, "Kliniek Zuid");
	assert_int_equal(strlen(list[2].name), 100);
	free(list);
}

static void test_policy(void **state)
{
	fx_t *f = *state;
	km_policy_t p, q;
	char err[128];
	km_policy_defaults(&p);
	assert_int_equal(p.min_password_len, 12);
	assert_int_equal(p.require_2fa, 1);
	assert_int_equal(p.idle_timeout_min, 15);
	assert_int_equal(p.session_max_hours, 12);
	assert_int_equal(p.lockout_failures, 10);
	assert_int_equal(p.lockout_minutes, 15);
	assert_int_equal(p.audit_retention_days, 1825);
	assert_int_equal(p.calllog_retention_days, 90);
	assert_int_equal(p.consult_max_hours, 24);
	assert_int_equal(p.full_client_ip, 0);
	assert_int_equal(p.allow_aes128, 0);

	/* A new org gets exactly the defaults. */
	assert_int_equal(km_accounts_policy_get(f->s, f->org, &q), 0);
	assert_memory_equal(&p, &q, sizeof p);

	int n = 0;
	long *v, mn, mx;
	const char *name;
	for (; (name = km_policy_field(&p, n, &v, &mn, &mx)); n++)
		assert_true(*v >= mn && *v <= mx);
	assert_int_equal(n, 13);
	assert_null(km_policy_field(&p, -1, &v, &mn, &mx));

	assert_int_equal(km_policy_set(&p, "idle_timeout_min", 241, err, sizeof err), KM_EINVAL);
	assert_string_equal(err, "idle_timeout_min must be from 1 to 240");
	assert_int_equal(km_policy_set(&p, "audit_retention_days", 729, err, sizeof err), KM_EINVAL);
	assert_int_equal(km_policy_set(&p, "require_2fa", 2, err, sizeof err), KM_EINVAL);
	assert_int_equal(km_policy_set(&p, "no_such_key", 1, err, sizeof err), KM_EINVAL);
	assert_non_null(strstr(err, "no_such_key"));
	assert_int_equal(p.idle_timeout_min, 15);
	assert_int_equal(km_policy_set(&p, "idle_timeout_min", 240, err, sizeof err), 0);
	assert_int_equal(km_policy_set(&p, "audit_retention_days", 730, err, sizeof err), 0);
	assert_int_equal(km_policy_set(&p, "require_2fa", 0, err, sizeof err), 0);

	assert_int_equal(km_accounts_policy_put(f->s, f->org, &p), 0);
	assert_int_equal(km_accounts_policy_get(f->s, f->org, &q), 0);
	assert_memory_equal(&p, &q, sizeof p);
	/* The other org is untouched. */
	assert_int_equal(km_accounts_policy_get(f->s, f->org2, &q), 0);
	assert_int_equal(q.idle_timeout_min, 15);

	/* An out-of-range struct is refused as a whole. */
	q.lockout_failures = 2;
	q.idle_timeout_min = 30;
	assert_int_equal(km_accounts_policy_put(f->s, f->org2, &q), KM_EINVAL);
	assert_int_equal(km_accounts_policy_get(f->s, f->org2, &q), 0);
	assert_int_equal(q.idle_timeout_min, 15);
	assert_int_equal(km_accounts_policy_put(f->s, 999, &p), KM_ENOTFOUND);
	assert_int_equal(km_accounts_policy_get(f->s, 999, &q), KM_ENOTFOUND);
}

static void test_users(void **state)
{
	fx_t *f = *state;
	int64_t a = add_user(f, f->org, "Anna@Example.org", "admin");
	int64_t b = add_user(f, f->org, "bob@example.org", "clinician");
	int64_t c = add_user(f, f->org2, "carla@example.org", "clinician");
	int64_t id = 0;
	char tok[KM_TOKEN_LEN];
	assert_int_equal(km_accounts_user_add(f->s, f->org2, "anna@EXAMPLE.org", "admin", T0, &id, tok), KM_EEXIST);
	assert_int_equal(km_accounts_user_add(f->s, f->org, "nobody", "admin", T0, &id, tok), KM_EINVAL);
	assert_int_equal(km_accounts_user_add(f->s, f->org, "a@b@c", "admin", T0, &id, tok), KM_EINVAL);
	assert_int_equal(km_accounts_user_add(f->s, f->org, "@example.org", "admin", T0, &id, tok), KM_EINVAL);
	assert_int_equal(km_accounts_user_add(f->s, f->org, "x y@example.org", "admin", T0, &id, tok), KM_EINVAL);
	assert_int_equal(km_accounts_user_add(f->s, f->org, "d@example.org", "root", T0, &id, tok), KM_EINVAL);
	assert_int_equal(km_accounts_user_add(f->s, f->org, "d@example.org", NULL, T0, &id, tok), KM_EINVAL);
	assert_int_equal(km_accounts_user_add(f->s, 999, "d@example.org", "admin", T0, &id, tok), KM_ENOTFOUND);
	/* Nothing of the refused ones was written: no user, no link. */
	assert_int_equal(count_rows(f, "SELECT count(*) FROM users"), 3);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM setup_links"), 3);

	km_user_t u;
	assert_int_equal(km_accounts_user_by_email(f->s, "ANNA@example.ORG", &u), 0);
	assert_int_equal(u.id, a);
	assert_string_equal(u.email, "Anna@Example.org");
	assert_string_equal(u.role, "admin");
	assert_string_equal(u.pw_hash, "");
	assert_int_equal(u.totp_len, 0);
	assert_int_equal(u.disabled, 0);
	assert_int_equal(u.created_at, T0);
	assert_int_equal(km_accounts_user_by_email(f->s, "nobody@example.org", &u), KM_ENOTFOUND);
	assert_int_equal(km_accounts_user_get(f->s, c, &u), 0);
	assert_int_equal(u.org_id, f->org2);

	km_user_t *list;
	size_t n;
	assert_int_equal(km_accounts_user_list(f->s, f->org, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, a);
	assert_int_equal(list[1].id, b);
	free(list);
	assert_int_equal(km_accounts_user_list(f->s, f->org2, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, c);
	free(list);
	assert_int_equal(km_accounts_user_list(f->s, 999, &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);

	assert_int_equal(km_accounts_user_set_role(f->s, b, "admin"), 0);
	assert_int_equal(km_accounts_user_set_role(f->s, b, "boss"), KM_EINVAL);
	assert_int_equal(km_accounts_user_set_role(f->s, 999, "admin"), KM_ENOTFOUND);
	assert_int_equal(km_accounts_user_get(f->s, b, &u), 0);
	assert_string_equal(u.role, "admin");
}

static void test_setup_link(void **state)
{
	fx_t *f = *state;
	int64_t id = 0, uid = 0;
	char tok[KM_TOKEN_LEN], tok2[KM_TOKEN_LEN];
	assert_int_equal(km_accounts_user_add(f->s, f->org, "d@example.org", "clinician", T0, &id, tok), 0);
	/* Only the hash is stored. */
	char hash[65];
	assert_int_equal(km_codes_sha256_hex(tok, hash), 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM setup_links WHERE length(hash) = 64"), 1);

	assert_int_equal(km_accounts_setup_link_check(f->s, tok, T0 + 100, &uid), 0);
	assert_int_equal(uid, id);
	assert_int_equal(km_accounts_setup_link_check(f->s, tok, T0 + 24 * 3600 - 1, &uid), 0);
	assert_int_equal(km_accounts_setup_link_check(f->s, tok, T0 + 24 * 3600, &uid), KM_ENOTFOUND);
	assert_int_equal(km_accounts_setup_link_use(f->s, tok, "$scrypt$x", T0 + 24 * 3600, &uid), KM_ENOTFOUND);
	assert_int_equal(km_accounts_setup_link_check(f->s, "nonsense", T0, &uid), KM_ENOTFOUND);
	assert_int_equal(km_accounts_setup_link_check(f->s, NULL, T0, &uid), KM_ENOTFOUND);

	/* A new link replaces the old one. */
	assert_int_equal(km_accounts_setup_link_new(f->s, id, T0 + 60, tok2), 0);
	assert_string_not_equal(tok, tok2);
	assert_int_equal(km_accounts_setup_link_check(f->s, tok, T0 + 100, &uid), KM_ENOTFOUND);
	assert_int_equal(km_accounts_setup_link_check(f->s, tok2, T0 + 100, &uid), 0);
	assert_int_equal(km_accounts_setup_link_new(f->s, 999, T0, tok), KM_ENOTFOUND);

	/* Use: sets the hash, ends sessions, clears the lockout, consumes the link. */
	char stok[KM_TOKEN_LEN];
	int64_t sid;
	assert_int_equal(km_accounts_session_new(f->s, id, "full", T0, T0 + 3600, "10.0.0.1", "ua", stok, &sid), 0);
	assert_int_equal(sqlite3_exec(f->s->db, "UPDATE users SET failed_count = 4, locked_until = 99", 0, 0, 0), 0);
	assert_int_equal(km_accounts_setup_link_use(f->s, tok2, "", T0 + 200, &uid), KM_EINVAL);
	assert_int_equal(km_accounts_setup_link_use(f->s, tok2, "$scrypt$hash", T0 + 200, &uid), 0);
	assert_int_equal(uid, id);
	km_user_t u;
	assert_int_equal(km_accounts_user_get(f->s, id, &u), 0);
	assert_string_equal(u.pw_hash, "$scrypt$hash");
	assert_int_equal(u.pw_changed_at, T0 + 200);
	assert_int_equal(u.failed_count, 0);
	assert_int_equal(u.locked_until, 0);
	km_session_t ss;
	assert_int_equal(km_accounts_session_get(f->s, stok, &ss), KM_ENOTFOUND);
	assert_int_equal(km_accounts_setup_link_use(f->s, tok2, "$scrypt$other", T0 + 300, &uid), KM_ENOTFOUND);
	assert_int_equal(km_accounts_user_get(f->s, id, &u), 0);
	assert_string_equal(u.pw_hash, "$scrypt$hash");

	/* rehash and set_password. */
	assert_int_equal(km_accounts_rehash(f->s, id, "$scrypt$stronger"), 0);
	assert_int_equal(km_accounts_session_new(f->s, id, "full", T0, T0 + 3600, "", "", stok, &sid), 0);
	char stok2[KM_TOKEN_LEN];
	int64_t sid2;
	assert_int_equal(km_accounts_session_new(f->s, id, "full", T0, T0 + 3600, "", "", stok2, &sid2), 0);
	assert_int_equal(km_accounts_set_password(f->s, id, "$scrypt$new", T0 + 400, sid), 0);
	assert_int_equal(km_accounts_session_get(f->s, stok, &ss), 0);
	assert_int_equal(km_accounts_session_get(f->s, stok2, &ss), KM_ENOTFOUND);
	assert_int_equal(km_accounts_user_get(f->s, id, &u), 0);
	assert_string_equal(u.pw_hash, "$scrypt$new");
	assert_int_equal(km_accounts_set_password(f->s, 999, "$scrypt$new", T0, 0), KM_ENOTFOUND);
}

static void test_lockout(void **state)
{
	fx_t *f = *state;
	int64_t id = add_user(f, f->org, "e@example.org", "clinician");
	km_policy_t p;
	km_policy_defaults(&p);
	p.lockout_failures = 3;
	p.lockout_minutes = 20;
	int locked = -1;
	km_user_t u;
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(km_accounts_record_failure(f->s, id, T0, &p, &locked), 0);
		assert_int_equal(locked, 0);
		assert_int_equal(km_accounts_user_get(f->s, id, &u), 0);
		assert_int_equal(u.failed_count, i);
		assert_int_equal(u.locked_until, 0);
	}
	assert_int_equal(km_accounts_record_failure(f->s, id, T0 + 5, &p, &locked), 0);
	assert_int_equal(locked, 1);
	assert_int_equal(km_accounts_user_get(f->s, id, &u), 0);
	assert_int_equal(u.failed_count, 0);
	assert_int_equal(u.locked_until, T0 + 5 + 20 * 60);
	/* Success resets the count. */
	assert_int_equal(km_accounts_record_failure(f->s, id, T0 + 6, &p, &locked), 0);
	assert_int_equal(locked, 0);
	assert_int_equal(km_accounts_record_success(f->s, id), 0);
	assert_int_equal(km_accounts_user_get(f->s, id, &u), 0);
	assert_int_equal(u.failed_count, 0);
	assert_int_equal(km_accounts_record_failure(f->s, 999, T0, &p, &locked), KM_ENOTFOUND);
}

static void test_totp_and_recovery(void **state)
{
	fx_t *f = *state;
	int64_t id = add_user(f, f->org, "f@example.org", "clinician");
	uint8_t sealed[49], big[KM_SEALED_MAX + 1];
	for (size_t i = 0; i < sizeof sealed; i++)
		sealed[i] = (uint8_t)(i * 7);
	km_user_t u;
	assert_int_equal(km_accounts_totp_use_step(f->s, id, 100), KM_ENOTFOUND); /* not enrolled */
	assert_int_equal(km_accounts_totp_activate(f->s, id, 100), KM_ENOTFOUND);  /* nothing pending */
	assert_int_equal(km_accounts_totp_set_pending(f->s, id, big, sizeof big), KM_EINVAL);
	assert_int_equal(km_accounts_totp_set_pending(f->s, id, sealed, sizeof sealed), 0);
	assert_int_equal(km_accounts_user_get(f->s, id, &u), 0);
	assert_int_equal(u.totp_pending_len, sizeof sealed);
	assert_memory_equal(u.totp_pending, sealed, sizeof sealed);
	assert_int_equal(u.totp_len, 0);
	assert_int_equal(km_accounts_totp_activate(f->s, id, 1000), 0);
	assert_int_equal(km_accounts_user_get(f->s, id, &u), 0);
	assert_int_equal(u.totp_len, sizeof sealed);
	assert_memory_equal(u.totp, sealed, sizeof sealed);
	assert_int_equal(u.totp_pending_len, 0);
	assert_int_equal(u.totp_last_step, 1000);

	/* The confirming step and older ones are replays. */
	assert_int_equal(km_accounts_totp_use_step(f->s, id, 1000), KM_EPERM);
	assert_int_equal(km_accounts_totp_use_step(f->s, id, 999), KM_EPERM);
	assert_int_equal(km_accounts_totp_use_step(f->s, id, 1001), 0);
	assert_int_equal(km_accounts_totp_use_step(f->s, id, 1001), KM_EPERM);
	assert_int_equal(km_accounts_totp_use_step(f->s, 999, 2000), KM_ENOTFOUND);

	char codes[KM_CODES_RECOVERY_COUNT][KM_CODES_RECOVERY_SIZE], hashes[KM_CODES_RECOVERY_COUNT][65];
	assert_int_equal(km_codes_recovery(codes), 0);
	for (int i = 0; i < KM_CODES_RECOVERY_COUNT; i++) {
		char norm[KM_CODES_RECOVERY_SIZE];
		assert_int_equal(km_codes_recovery_normalize(codes[i], norm, sizeof norm), 0);
		assert_int_equal(km_codes_sha256_hex(norm, hashes[i]), 0);
	}
	long left = -1;
	assert_int_equal(km_accounts_recovery_left(f->s, id, &left), 0);
	assert_int_equal(left, 0);
	assert_int_equal(km_accounts_recovery_set(f->s, id, hashes, KM_CODES_RECOVERY_COUNT), 0);
	assert_int_equal(km_accounts_recovery_left(f->s, id, &left), 0);
	assert_int_equal(left, 10);
	assert_int_equal(km_accounts_recovery_use(f->s, id, hashes[3], T0), 0);
	assert_int_equal(km_accounts_recovery_use(f->s, id, hashes[3], T0), KM_ENOTFOUND);
	assert_int_equal(km_accounts_recovery_left(f->s, id, &left), 0);
	assert_int_equal(left, 9);
	/* Another user cannot use these codes. */
	int64_t other = add_user(f, f->org, "g@example.org", "clinician");
	assert_int_equal(km_accounts_recovery_use(f->s, other, hashes[4], T0), KM_ENOTFOUND);
	assert_int_equal(km_accounts_recovery_use(f->s, id, "not-hex", T0), KM_ENOTFOUND);
	/* A bad hash refuses the whole set; the old set stays. */
	char bad[2][65];
	memcpy(bad[0], hashes[0], 65);
	snprintf(bad[1], sizeof bad[1], "%s", "XYZ");
	assert_int_equal(km_accounts_recovery_set(f->s, id, bad, 2), KM_EINVAL);
	/* A duplicate rolls back the whole set; the old set stays. */
	memcpy(bad[1], hashes[0], 65);
	assert_int_equal(km_accounts_recovery_set(f->s, id, bad, 2), KM_EEXIST);
	assert_int_equal(km_accounts_recovery_left(f->s, id, &left), 0);
	assert_int_equal(left, 9);

	/* Reset: secret, pending, codes and sessions go. */
	char stok[KM_TOKEN_LEN];
	int64_t sid;
	assert_int_equal(km_accounts_session_new(f->s, id, "full", T0, T0 + 3600, "", "", stok, &sid), 0);
	assert_int_equal(km_accounts_totp_set_pending(f->s, id, sealed, 10), 0);
	assert_int_equal(km_accounts_user_reset_2fa(f->s, id), 0);
	assert_int_equal(km_accounts_user_get(f->s, id, &u), 0);
	assert_int_equal(u.totp_len, 0);
	assert_int_equal(u.totp_pending_len, 0);
	assert_int_equal(km_accounts_recovery_left(f->s, id, &left), 0);
	assert_int_equal(left, 0);
	km_session_t ss;
	assert_int_equal(km_accounts_session_get(f->s, stok, &ss), KM_ENOTFOUND);
	assert_int_equal(km_accounts_user_reset_2fa(f->s, 999), KM_ENOTFOUND);
}

static void test_sessions(void **state)
{
	fx_t *f = *state;
	int64_t a = add_user(f, f->org, "h@example.org", "clinician");
	int64_t b = add_user(f, f->org, "i@example.org", "clinician");
	char t1[KM_TOKEN_LEN], t2[KM_TOKEN_LEN], t3[KM_TOKEN_LEN], tb[KM_TOKEN_LEN], tn[KM_TOKEN_LEN];
	int64_t s1, s2, s3, sb;
	char longua[300];
	memset(longua, 'x', sizeof longua - 1);
	longua[sizeof longua - 1] = 0;
	assert_int_equal(km_accounts_session_new(f->s, a, "bogus", T0, T0 + 60, "", "", t1, &s1), KM_EINVAL);
	assert_int_equal(km_accounts_session_new(f->s, 999, "full", T0, T0 + 60, "", "", t1, &s1), KM_ENOTFOUND);
	assert_int_equal(km_accounts_session_new(f->s, a, "password", T0, T0 + 3600, "192.0.2.7", longua, t1, &s1), 0);
	assert_int_equal(km_accounts_session_new(f->s, a, "full", T0 + 10, T0 + 3600, "192.0.2.8", "ua2", t2, &s2), 0);
	assert_int_equal(km_accounts_session_new(f->s, a, "full", T0 + 20, T0 + 3600, "192.0.2.9", "ua3", t3, &s3), 0);
	assert_int_equal(km_accounts_session_new(f->s, b, "full", T0, T0 + 3600, "192.0.2.10", "ub", tb, &sb), 0);
	assert_int_equal(strlen(t1), 43);
	/* Only hashes are stored. */
	assert_int_equal(count_rows(f, "SELECT count(*) FROM sessions WHERE length(id_hash) = 64"), 4);

	km_session_t ss;
	assert_int_equal(km_accounts_session_get(f->s, t1, &ss), 0);
	assert_int_equal(ss.id, s1);
	assert_int_equal(ss.user_id, a);
	assert_string_equal(ss.stage, "password");
	assert_int_equal(ss.created_at, T0);
	assert_int_equal(ss.last_seen, T0);
	assert_int_equal(ss.expires_at, T0 + 3600);
	assert_string_equal(ss.client_ip, "192.0.2.7");
	assert_int_equal(strlen(ss.user_agent), 127);
	assert_int_equal(km_accounts_session_get(f->s, "bogus", &ss), KM_ENOTFOUND);

	assert_int_equal(km_accounts_session_touch(f->s, s1, T0 + 30), 0);
	assert_int_equal(km_accounts_session_get(f->s, t1, &ss), 0);
	assert_int_equal(ss.last_seen, T0 + 30);
	assert_int_equal(km_accounts_session_touch(f->s, 9999, T0), KM_ENOTFOUND);

	/* Promote: new token, same public id; the old token stops working. */
	assert_int_equal(km_accounts_session_promote(f->s, s1, "full", tn), 0);
	assert_string_not_equal(t1, tn);
	assert_int_equal(km_accounts_session_get(f->s, t1, &ss), KM_ENOTFOUND);
	assert_int_equal(km_accounts_session_get(f->s, tn, &ss), 0);
	assert_int_equal(ss.id, s1);
	assert_string_equal(ss.stage, "full");
	assert_int_equal(km_accounts_session_promote(f->s, s1, "root", tn), KM_EINVAL);
	assert_int_equal(km_accounts_session_promote(f->s, 9999, "full", t1), KM_ENOTFOUND);

	km_session_t *list;
	size_t n;
	assert_int_equal(km_accounts_session_list(f->s, a, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(list[0].id, s3); /* newest first */
	assert_int_equal(list[1].id, s2);
	assert_int_equal(list[2].id, s1);
	free(list);

	/* end_own refuses another user's session. */
	assert_int_equal(km_accounts_session_end_own(f->s, a, sb), KM_ENOTFOUND);
	assert_int_equal(km_accounts_session_get(f->s, tb, &ss), 0);
	assert_int_equal(km_accounts_session_end_own(f->s, a, s2), 0);
	assert_int_equal(km_accounts_session_get(f->s, t2, &ss), KM_ENOTFOUND);
	assert_int_equal(km_accounts_session_end(f->s, s2), KM_ENOTFOUND);

	/* end_all with except keeps that one and touches no other user. */
	assert_int_equal(km_accounts_session_new(f->s, a, "full", T0, T0 + 3600, "", "", t2, &s2), 0);
	assert_int_equal(km_accounts_session_end_all(f->s, a, s3), 0);
	assert_int_equal(km_accounts_session_list(f->s, a, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].id, s3);
	free(list);
	assert_int_equal(km_accounts_session_get(f->s, tb, &ss), 0);
	assert_int_equal(km_accounts_session_end(f->s, s3), 0);
	assert_int_equal(km_accounts_session_get(f->s, t3, &ss), KM_ENOTFOUND);

	/* Disabling ends all sessions; enabling brings none back. */
	assert_int_equal(km_accounts_user_set_disabled(f->s, b, 1), 0);
	assert_int_equal(km_accounts_session_get(f->s, tb, &ss), KM_ENOTFOUND);
	km_user_t u;
	assert_int_equal(km_accounts_user_get(f->s, b, &u), 0);
	assert_int_equal(u.disabled, 1);
	assert_int_equal(km_accounts_user_set_disabled(f->s, b, 0), 0);
	assert_int_equal(km_accounts_user_get(f->s, b, &u), 0);
	assert_int_equal(u.disabled, 0);
	assert_int_equal(km_accounts_user_set_disabled(f->s, 999, 1), KM_ENOTFOUND);
}

/* Writes inside km_accounts_tx_begin nest as savepoints: a failed one
 * undoes only itself; the whole rolls back or commits together. */
static void test_transaction(void **state)
{
	fx_t *f = *state;
	int64_t id, uid;
	char tok[KM_TOKEN_LEN];
	km_org_t o;
	assert_int_equal(km_accounts_tx_begin(f->s), 0);
	assert_int_equal(km_accounts_tx_begin(f->s), KM_ESTORE); /* one at a time */
	assert_int_equal(km_accounts_org_create(f->s, "Nested", T0, &id), 0);
	assert_int_equal(km_accounts_org_create(f->s, "Nested", T0, &id), KM_EEXIST);
	assert_int_equal(sqlite3_get_autocommit(f->s->db), 0); /* still the caller's */
	assert_int_equal(km_accounts_tx_end(f->s, KM_EIO), KM_EIO);
	assert_int_equal(sqlite3_get_autocommit(f->s->db), 1);
	assert_int_equal(km_accounts_org_find(f->s, "Nested", &o), KM_ENOTFOUND);

	assert_int_equal(km_accounts_tx_begin(f->s), 0);
	assert_int_equal(km_accounts_org_create(f->s, "Nested", T0, &id), 0);
	assert_int_equal(km_accounts_user_add(f->s, id, "n@example.org", "admin", T0, &uid, tok), 0);
	assert_int_equal(km_accounts_tx_end(f->s, 0), 0);
	assert_int_equal(km_accounts_org_find(f->s, "Nested", &o), 0);
	km_user_t u;
	assert_int_equal(km_accounts_user_get(f->s, uid, &u), 0);
	assert_int_equal(u.org_id, id);
}

static void test_email_valid(void **state)
{
	(void)state;
	assert_true(km_accounts_email_valid("a@b"));
	assert_true(km_accounts_email_valid("zo\xc3\xab@example.org"));
	assert_false(km_accounts_email_valid(NULL));
	assert_false(km_accounts_email_valid("ab"));
	assert_false(km_accounts_email_valid("ab@"));
	assert_false(km_accounts_email_valid("a\tb@c"));
	assert_false(km_accounts_email_valid("a@b\x7f"));
	assert_false(km_accounts_email_valid("a@b\xc3"));
	char big[300];
	memset(big, 'a', sizeof big);
	big[0] = '@';
	big[254] = 0;
	assert_false(km_accounts_email_valid(big));
	big[0] = 'a';
	big[1] = '@';
	assert_true(km_accounts_email_valid(big));
	big[254] = 'a';
	big[255] = 0;
	assert_false(km_accounts_email_valid(big));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_orgs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totp_and_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction, setup, teardown),
		cmocka_unit_test(test_email_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

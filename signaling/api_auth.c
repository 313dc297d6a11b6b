/* api_auth.c — sign-in (password, then TOTP or a recovery code), TOTP
 * enrolment, set-up links, sign-out, the user's own sessions and password.
 * One generic answer for every sign-in failure. Guessing is bounded three
 * ways: growing delays per address and per account+address; a budget of
 * password checks per account (at most 100 an hour, a share of it kept for
 * the account's known devices, device.h); and the org's lockout after its
 * number of failures, which holds for browsers without the device mark, so
 * strangers cannot lock the account's own user out. Every scrypt (sign-in,
 * set-up, password change, re-enrolment) runs in the KDF pool
 * (kdf_pool.h, api_int.h km_api_defer); its continuation finishes the
 * request. Sign-ins run one at a time per address and per account
 * (km_api_serial), so every check sees the attempts before it. Signaling
 * thread only. */
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "rooms/codes.h"
#include "rooms/password.h"
#include "rooms/secretbox.h"
#include "rooms/totp.h"
#include "signaling/api_int.h"
#include "signaling/device.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void signin_failed(km_api_ctx_t *c)
{
	km_http_error(c->resp, 401, "signin_failed", "Email address, password or code is not right.");
}

/* A 429 before any check. The first refusal of a run (per note_key, until
 * that key fails again) leaves an audit row and a log line, so that an
 * attack shows without a row per try. */
static void too_many(km_api_ctx_t *c, int64_t wait_ms, const char *note_key, const char *step, const char *why)
{
	long secs = (long)((wait_ms + 999) / 1000);
	if (km_throttle_note(c->srv->throttle, note_key, km_clock_now_ms())) {
		char d[96];
		snprintf(d, sizeof d, "step=%s reason=%s retry_after=%ld", step, why, secs);
		km_warn("auth", "throttled", "step=%s reason=%s retry_after=%ld", step, why, secs);
		km_api_audit(c, -1, "signin.throttled", "failure", NULL, 0, d);
	}
	km_http_error(c->resp, 429, "too_many_attempts", "Too many attempts. Wait a moment and try again.");
	c->resp->retry_after = secs;
}

static void key_ip(km_api_ctx_t *c, char out[72])
{
	snprintf(out, 72, "i:%s", c->req->ip);
}

/* The throttle key of an account: a hash of the lower-cased email, so that
 * unknown and known addresses are throttled alike and none is kept; with
 * pair set, of the email and the caller's address. */
static void key_account(const char *email, const char *ip, char out[72])
{
	char lower[256 + 50], hex[65];
	size_t i;
	for (i = 0; email[i] && i < 255; i++)
		lower[i] = (char)((email[i] >= 'A' && email[i] <= 'Z') ? email[i] + 32 : email[i]);
	snprintf(lower + i, sizeof lower - i, "%s%s", ip ? "\n" : "", ip ? ip : "");
	km_codes_sha256_hex(lower, hex);
	snprintf(out, 72, "%s:%s", ip ? "p" : "a", hex);
}

/* Marks this browser as a known device of user u (a second cookie). */
static void mark_device(km_api_ctx_t *c, int64_t user_id)
{
	char v[KM_DEVICE_MAX];
	if (km_device_issue(c->srv->server_key, user_id, c->now, v) == 0)
		snprintf(c->resp->set_cookie2, sizeof c->resp->set_cookie2,
			 "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%d", KM_DEVICE_COOKIE, v,
			 KM_DEVICE_LIFETIME_S);
}

static int64_t throttled(km_api_ctx_t *c, const char *k1, const char *k2)
{
	int64_t now = km_clock_now_ms();
	int64_t a = km_throttle_wait(c->srv->throttle, k1, now);
	int64_t b = k2 ? km_throttle_wait(c->srv->throttle, k2, now) : 0;
	return a > b ? a : b;
}

static void fail_both(km_api_ctx_t *c, const char *k1, const char *k2)
{
	int64_t now = km_clock_now_ms();
	km_throttle_fail(c->srv->throttle, k1, now);
	if (k2)
		km_throttle_fail(c->srv->throttle, k2, now);
}

/* Counts a failed step against an existing account; audits a lockout.
 * A known device's failures do not count towards the lockout. */
static void count_failure(km_api_ctx_t *c, const km_user_t *u)
{
	if (km_device_valid(c->srv->server_key, c->req->device, u->id, c->now))
		return;
	km_policy_t p;
	int locked = 0;
	if (km_accounts_policy_get(c->srv->store, u->org_id, &p) != 0)
		km_policy_defaults(&p);
	if (km_accounts_record_failure(c->srv->store, u->id, c->now, &p, &locked) == 0 && locked) {
		char d[48];
		snprintf(d, sizeof d, "minutes=%ld", p.lockout_minutes);
		km_warn("auth", "account_locked", "user=%lld", (long long)u->id);
		km_api_audit(c, u->org_id, "signin.lockout", "success", "user", u->id, d);
		km_accounts_session_end_all(c->srv->store, u->id, 0);
	}
}

static const char *next_of(const char *stage)
{
	return strcmp(stage, "password") == 0 ? "totp" : strcmp(stage, "enrol") == 0 ? "enrol" : "done";
}

/* What the sign-in continuation needs (wiped with the job). */
struct signin_st {
	char kip[72], kacct[72], kpair[72];
	int found, known;
	km_user_t u;
};

/* The password was checked (in the KDF pool): the rest of the sign-in. */
static void signin_checked(km_api_ctx_t *c, const km_kdf_result_t *r, void *state)
{
	struct signin_st *st = state;
	const km_user_t *u = &st->u;
	int found = st->found, known = st->known;
	km_ratelimit_t *budget = known ? c->srv->pw_budget_known : c->srv->pw_budget;
	int has_pw = found && u->pw_hash[0];
	int pw_ok = r->rc == 0 && has_pw;
	int locked = found && !known && u->locked_until > c->now;
	if (!pw_ok || u->disabled || locked) {
		fail_both(c, st->kip, st->kpair);
		km_ratelimit_take(budget, st->kacct, (uint64_t)km_clock_now_ms());
		const char *why = !found ? "unknown_account" : !has_pw ? "no_password" : !pw_ok ? "bad_password"
				  : u->disabled ? "disabled" : "locked";
		if (has_pw && !pw_ok && !locked && !u->disabled)
			count_failure(c, u);
		char d[48];
		snprintf(d, sizeof d, "step=password reason=%s", why);
		km_api_audit(c, found ? u->org_id : 0, "signin", "failure", found ? "user" : NULL, found ? u->id : 0, d);
		signin_failed(c);
		return;
	}
	km_throttle_reset(c->srv->throttle, st->kpair);
	/* The worker hashed the password anew when its stored cost is too low. */
	if (r->needs_rehash && r->hash[0] && km_accounts_rehash(c->srv->store, u->id, r->hash) == 0)
		km_info("auth", "password_rehashed", "user=%lld", (long long)u->id);
	km_policy_t p;
	if (km_accounts_policy_get(c->srv->store, u->org_id, &p) != 0)
		km_policy_defaults(&p);
	const char *stage = u->totp_len ? "password" : p.require_2fa ? "enrol" : "full";
	char token[KM_TOKEN_LEN];
	int64_t sid;
	int rc = km_accounts_session_new(c->srv->store, u->id, stage, c->now, c->now + p.session_max_hours * 3600,
					 c->req->ip, c->req->user_agent, token, &sid);
	if (rc) {
		km_api_store_failed(c, "session_new", rc);
		return;
	}
	km_auth_set_cookie(c, token);
	OPENSSL_cleanse(token, sizeof token);
	/* The audit row names the user from here on. */
	c->has_session = 1;
	c->user = *u;
	c->policy = p;
	if (strcmp(stage, "full") == 0) {
		mark_device(c, u->id);
		km_accounts_record_success(c->srv->store, u->id);
		km_api_audit(c, -1, "signin", "success", "session", sid, "factors=password");
	} else {
		km_api_audit(c, -1, "signin.password", "success", "session", sid, NULL);
	}
	km_http_json(c->resp, 200, json_pack("{s:s}", "next", next_of(stage)));
}

static void signin(km_api_ctx_t *c)
{
	if (km_api_only(c, FIELDS("email", "password")))
		return;
	const char *email = km_api_str(c, "email", 254);
	const char *pw = email ? km_api_str(c, "password", KM_PASSWORD_INPUT_MAX) : NULL;
	if (!pw)
		return;
	struct signin_st st;
	memset(&st, 0, sizeof st);
	key_ip(c, st.kip);
	key_account(email, NULL, st.kacct);
	key_account(email, c->req->ip, st.kpair);
	/* One password check at a time per address and per account, so that
	 * the throttles and the budget below count every earlier attempt. */
	if (km_api_serial(c, st.kip) || km_api_serial(c, st.kacct))
		return;
	int64_t wait = throttled(c, st.kip, st.kpair);
	if (wait > 0) {
		int by_ip = km_throttle_wait(c->srv->throttle, st.kip, km_clock_now_ms()) > 0;
		too_many(c, wait, by_ip ? st.kip : st.kpair, "password", by_ip ? "address" : "account_address");
		return;
	}
	st.found = km_accounts_user_by_email(c->srv->store, email, &st.u) == 0;
	st.known = st.found && km_device_valid(c->srv->server_key, c->req->device, st.u.id, c->now);
	/* The account's budget of failed checks (the device mark has its own):
	 * spent by failures only, so that the user's own sign-ins cost nothing. */
	km_ratelimit_t *budget = st.known ? c->srv->pw_budget_known : c->srv->pw_budget;
	wait = km_ratelimit_peek(budget, st.kacct, (uint64_t)km_clock_now_ms());
	if (wait > 0) {
		too_many(c, wait, st.kpair, "password", st.known ? "account_budget_known_device" : "account_budget");
		OPENSSL_cleanse(&st, sizeof st);
		return;
	}
	int has_pw = st.found && st.u.pw_hash[0];
	/* Always one scrypt verify, so that unknown accounts take as long. */
	km_api_defer(c, KM_KDF_VERIFY, pw, has_pw ? st.u.pw_hash : c->srv->dummy_hash, signin_checked, &st, sizeof st);
	OPENSSL_cleanse(&st, sizeof st);
}

/* Opens the sealed TOTP secret (active or pending) of u into secret. */
static int open_secret(km_api_ctx_t *c, const km_user_t *u, int pending, uint8_t *secret, size_t *len)
{
	char aad[48];
	snprintf(aad, sizeof aad, "totp:%lld", (long long)u->id);
	return km_secretbox_open(c->srv->server_key, (const uint8_t *)aad, strlen(aad),
				 pending ? u->totp_pending : u->totp, pending ? u->totp_pending_len : u->totp_len,
				 secret, 64, len);
}

/* Gives the session stage full with a new token (cookie). */
static int promote(km_api_ctx_t *c)
{
	char token[KM_TOKEN_LEN];
	int rc = km_accounts_session_promote(c->srv->store, c->sess.id, "full", token);
	if (rc) {
		km_api_store_failed(c, "session_promote", rc);
		return rc;
	}
	km_auth_set_cookie(c, token);
	OPENSSL_cleanse(token, sizeof token);
	mark_device(c, c->user.id);
	return 0;
}

static void second_factor(km_api_ctx_t *c)
{
	if (km_api_only(c, FIELDS("code", "recovery_code")))
		return;
	char kip[72], kuser[72];
	key_ip(c, kip);
	snprintf(kuser, sizeof kuser, "u:%lld", (long long)c->user.id);
	int64_t wait = throttled(c, kip, kuser);
	if (wait > 0) {
		int by_ip = km_throttle_wait(c->srv->throttle, kip, km_clock_now_ms()) > 0;
		too_many(c, wait, by_ip ? kip : kuser, "second_factor", by_ip ? "address" : "account");
		return;
	}
	json_t *code = json_object_get(c->body, "code"), *rec = json_object_get(c->body, "recovery_code");
	int ok = 0;
	const char *method = "totp";
	if (json_is_string(code) && !rec && c->user.totp_len) {
		uint8_t secret[64];
		size_t slen;
		int64_t step;
		if (open_secret(c, &c->user, 0, secret, &slen) == 0 &&
		    km_totp_verify(secret, slen, json_string_value(code), (time_t)c->now, c->user.totp_last_step,
				   &step) == 0 &&
		    km_accounts_totp_use_step(c->srv->store, c->user.id, step) == 0)
			ok = 1;
		OPENSSL_cleanse(secret, sizeof secret);
	} else if (json_is_string(rec) && !code) {
		char norm[64], hex[65];
		method = "recovery_code";
		if (km_codes_recovery_normalize(json_string_value(rec), norm, sizeof norm) == 0 &&
		    km_codes_sha256_hex(norm, hex) == 0 &&
		    km_accounts_recovery_use(c->srv->store, c->user.id, hex, c->now) == 0)
			ok = 1;
	} else {
		km_http_error(c->resp, 400, "invalid_body", "send either \"code\" or \"recovery_code\"");
		return;
	}
	if (!ok) {
		fail_both(c, kip, kuser);
		count_failure(c, &c->user);
		char d[64];
		snprintf(d, sizeof d, "step=second_factor method=%s", method);
		km_api_audit(c, -1, "signin", "failure", "session", c->sess.id, d);
		signin_failed(c);
		return;
	}
	km_throttle_reset(c->srv->throttle, kuser);
	if (promote(c))
		return;
	km_accounts_record_success(c->srv->store, c->user.id);
	char d[64];
	snprintf(d, sizeof d, "factors=password,%s", method);
	km_api_audit(c, -1, "signin", "success", "session", c->sess.id, d);
	long left = 0;
	km_accounts_recovery_left(c->srv->store, c->user.id, &left);
	km_http_json(c->resp, 200, json_pack("{s:s,s:i}", "next", "done", "recovery_codes_left", (int)left));
}

/* The caller's current password (asked again to change the password or
 * 2FA) was checked: 1 if it was right, else the failure is counted and
 * audited and the answer is 401. */
static int reauth_ok(km_api_ctx_t *c, const km_kdf_result_t *r)
{
	if (r->rc == 0)
		return 1;
	count_failure(c, &c->user);
	km_api_audit(c, -1, "reauth", "failure", "user", c->user.id, NULL);
	km_http_error(c->resp, 401, "password_wrong", "The password is not right.");
	return 0;
}

static void enrol_start_go(km_api_ctx_t *c);

static void enrol_start_checked(km_api_ctx_t *c, const km_kdf_result_t *r, void *state)
{
	if (reauth_ok(c, r))
		enrol_start_go(c);
}

static void enrol_start(km_api_ctx_t *c)
{
	if (km_api_only(c, FIELDS("password")))
		return;
	if (!c->user.totp_len) {
		enrol_start_go(c);
		return;
	}
	const char *pw = km_api_str(c, "password", KM_PASSWORD_INPUT_MAX);
	if (pw)
		km_api_defer(c, KM_KDF_VERIFY, pw, c->user.pw_hash, enrol_start_checked, NULL, 0);
}

/* A new TOTP secret, pending until enrol_confirm. */
static void enrol_start_go(km_api_ctx_t *c)
{
	uint8_t secret[KM_TOTP_SECRET_LEN], sealed[KM_SEALED_MAX];
	char b32[64], uri[KM_TOTP_URI_MAX], aad[48];
	size_t slen;
	char *svg = NULL;
	snprintf(aad, sizeof aad, "totp:%lld", (long long)c->user.id);
	int rc = km_totp_generate_secret(secret);
	if (!rc)
		rc = km_base32_encode(secret, sizeof secret, b32, sizeof b32);
	if (!rc)
		rc = km_totp_uri("kamer", c->user.email, b32, uri, sizeof uri);
	if (!rc)
		rc = km_totp_qr_svg(uri, &svg);
	if (!rc)
		rc = km_secretbox_seal(c->srv->server_key, (const uint8_t *)aad, strlen(aad), secret, sizeof secret,
				       sealed, sizeof sealed, &slen);
	OPENSSL_cleanse(secret, sizeof secret);
	if (!rc)
		rc = km_accounts_totp_set_pending(c->srv->store, c->user.id, sealed, slen);
	if (rc) {
		free(svg);
		km_api_store_failed(c, "enrol_start", rc);
		return;
	}
	km_http_json(c->resp, 200, json_pack("{s:s,s:s,s:s}", "secret", b32, "uri", uri, "qr_svg", svg));
	free(svg);
	OPENSSL_cleanse(b32, sizeof b32);
}

static void enrol_confirm(km_api_ctx_t *c)
{
	if (km_api_only(c, FIELDS("code")))
		return;
	const char *code = km_api_str(c, "code", 16);
	if (!code)
		return;
	if (!c->user.totp_pending_len) {
		km_http_error(c->resp, 409, "no_enrolment", "start the enrolment first");
		return;
	}
	uint8_t secret[64];
	size_t slen;
	int64_t step;
	int ok = open_secret(c, &c->user, 1, secret, &slen) == 0 &&
		 km_totp_verify(secret, slen, code, (time_t)c->now, -1, &step) == 0;
	OPENSSL_cleanse(secret, sizeof secret);
	if (!ok) {
		km_api_audit(c, -1, "2fa.enrol", "failure", "user", c->user.id, NULL);
		km_http_error(c->resp, 400, "code_wrong", "The code is not right. Check the time on your phone.");
		return;
	}
	char codes[KM_CODES_RECOVERY_COUNT][KM_CODES_RECOVERY_SIZE], hashes[KM_CODES_RECOVERY_COUNT][65];
	int rc = km_codes_recovery(codes);
	for (int i = 0; !rc && i < KM_CODES_RECOVERY_COUNT; i++) {
		char norm[32];
		rc = km_codes_recovery_normalize(codes[i], norm, sizeof norm);
		if (!rc)
			rc = km_codes_sha256_hex(norm, hashes[i]);
	}
	if (!rc)
		rc = km_accounts_totp_activate(c->srv->store, c->user.id, step);
	if (!rc)
		rc = km_accounts_recovery_set(c->srv->store, c->user.id, hashes, KM_CODES_RECOVERY_COUNT);
	if (rc) {
		km_api_store_failed(c, "enrol_confirm", rc);
		return;
	}
	if (promote(c))
		return;
	km_accounts_record_success(c->srv->store, c->user.id);
	km_api_audit(c, -1, "2fa.enrol", "success", "user", c->user.id, NULL);
	json_t *arr = json_array();
	for (int i = 0; i < KM_CODES_RECOVERY_COUNT; i++)
		json_array_append_new(arr, json_string(codes[i]));
	OPENSSL_cleanse(codes, sizeof codes);
	km_http_json(c->resp, 200, json_pack("{s:o}", "recovery_codes", arr));
}

/* Looks a set-up link up (throttled per address against guessing). */
static int setup_user(km_api_ctx_t *c, const char *token, km_user_t *u)
{
	char kip[72];
	key_ip(c, kip);
	int64_t wait = throttled(c, kip, NULL);
	if (wait > 0) {
		too_many(c, wait, kip, "setup_link", "address");
		return -1;
	}
	int64_t uid;
	if (strlen(token) != 43 || km_accounts_setup_link_check(c->srv->store, token, c->now, &uid) != 0 ||
	    km_accounts_user_get(c->srv->store, uid, u) != 0 || u->disabled) {
		fail_both(c, kip, NULL);
		km_http_error(c->resp, 404, "setup_link_invalid", "This link is not valid (anymore).");
		return -1;
	}
	return 0;
}

static void setup_check(km_api_ctx_t *c)
{
	km_user_t u;
	km_policy_t p;
	const char *token = km_api_only(c, FIELDS("token")) ? NULL : km_api_str(c, "token", 64);
	if (!token || setup_user(c, token, &u))
		return;
	if (km_accounts_policy_get(c->srv->store, u.org_id, &p) != 0)
		km_policy_defaults(&p);
	km_http_json(c->resp, 200, json_pack("{s:s,s:i}", "email", u.email, "min_password_len", (int)p.min_password_len));
}

/* Checks a new password against u's org policy; 400 password_rejected. */
static int policy_ok(km_api_ctx_t *c, const km_user_t *u, const char *pw)
{
	km_policy_t p;
	char reason[48];
	if (km_accounts_policy_get(c->srv->store, u->org_id, &p) != 0)
		km_policy_defaults(&p);
	if (km_password_policy_check(pw, u->email, (int)p.min_password_len, reason, sizeof reason) == 0)
		return 1;
	json_t *e = json_pack("{s:{s:s,s:s,s:s,s:i}}", "error", "code", "password_rejected", "message",
			      "This password is not allowed.", "reason", reason, "min_password_len",
			      (int)p.min_password_len);
	km_http_json(c->resp, 400, e);
	return 0;
}

struct setup_st {
	char token[72];
	km_user_t u;
};

/* The new password was hashed (in the KDF pool): use the link. */
static void setup_hashed(km_api_ctx_t *c, const km_kdf_result_t *r, void *state)
{
	struct setup_st *st = state;
	const km_user_t *u = &st->u;
	int64_t uid;
	int rc = r->rc;
	if (!rc)
		rc = km_accounts_setup_link_use(c->srv->store, st->token, r->hash, c->now, &uid);
	if (rc == KM_ENOTFOUND) {
		km_http_error(c->resp, 404, "setup_link_invalid", "This link is not valid (anymore).");
		return;
	}
	if (rc) {
		km_api_store_failed(c, "setup", rc);
		return;
	}
	km_api_audit(c, u->org_id, "password.set", "success", "user", u->id, "via=setup_link");
	km_http_json(c->resp, 200, json_object());
}

static void setup(km_api_ctx_t *c)
{
	struct setup_st st;
	if (km_api_only(c, FIELDS("token", "password")))
		return;
	const char *token = km_api_str(c, "token", 64);
	const char *pw = token ? km_api_str(c, "password", KM_PASSWORD_INPUT_MAX) : NULL;
	memset(&st, 0, sizeof st);
	if (!pw || setup_user(c, token, &st.u) || !policy_ok(c, &st.u, pw))
		return;
	memcpy(st.token, token, strlen(token) + 1); /* at most 64 bytes (km_api_str) */
	km_api_defer(c, KM_KDF_HASH, pw, NULL, setup_hashed, &st, sizeof st);
	OPENSSL_cleanse(&st, sizeof st);
}

static void signout(km_api_ctx_t *c)
{
	km_accounts_session_end(c->srv->store, c->sess.id);
	km_api_audit(c, -1, "signout", "success", "session", c->sess.id, NULL);
	km_auth_set_cookie(c, NULL);
	km_http_json(c->resp, 200, json_object());
}

static void me(km_api_ctx_t *c)
{
	km_http_json(c->resp, 200,
		     json_pack("{s:{s:I,s:s,s:s},s:{s:I,s:s},s:s,s:b,s:i,s:i,s:i}", "user", "id", (json_int_t)c->user.id,
			       "email", c->user.email, "role", c->user.role, "org", "id", (json_int_t)c->org.id, "name",
			       c->org.name, "stage", c->sess.stage, "totp", c->user.totp_len > 0, "min_password_len",
			       (int)c->policy.min_password_len, "idle_timeout_min", (int)c->policy.idle_timeout_min,
			       "consult_max_hours", (int)c->policy.consult_max_hours));
}

static void sessions_list(km_api_ctx_t *c)
{
	km_session_t *list = NULL;
	size_t n = 0;
	int rc = km_accounts_session_list(c->srv->store, c->user.id, &list, &n);
	if (rc) {
		km_api_store_failed(c, "session_list", rc);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:I,s:I,s:I,s:s,s:s,s:b}", "id", (json_int_t)list[i].id,
						     "created_at", (json_int_t)list[i].created_at, "last_seen",
						     (json_int_t)list[i].last_seen, "client_ip", list[i].client_ip,
						     "user_agent", list[i].user_agent, "current", list[i].id == c->sess.id));
	free(list);
	km_http_json(c->resp, 200, json_pack("{s:o}", "sessions", arr));
}

static void session_end(km_api_ctx_t *c)
{
	int rc = km_accounts_session_end_own(c->srv->store, c->user.id, c->id);
	if (rc == KM_ENOTFOUND) {
		km_http_error(c->resp, 404, "not_found", "no such session");
		return;
	}
	if (rc) {
		km_api_store_failed(c, "session_end", rc);
		return;
	}
	km_api_audit(c, -1, "session.end", "success", "session", c->id, "reason=ended_by_user");
	km_http_json(c->resp, 200, json_object());
}

/* The new password, kept (and wiped) between the two checks. */
struct pwchange_st {
	char nw[KM_PASSWORD_INPUT_MAX + 1];
};

static void password_change_hashed(km_api_ctx_t *c, const km_kdf_result_t *r, void *state)
{
	int rc = r->rc;
	if (!rc)
		rc = km_accounts_set_password(c->srv->store, c->user.id, r->hash, c->now, c->sess.id);
	if (rc) {
		km_api_store_failed(c, "password_change", rc);
		return;
	}
	km_api_audit(c, -1, "password.change", "success", "user", c->user.id, NULL);
	km_http_json(c->resp, 200, json_object());
}

static void password_change_checked(km_api_ctx_t *c, const km_kdf_result_t *r, void *state)
{
	struct pwchange_st *st = state;
	if (!reauth_ok(c, r) || !policy_ok(c, &c->user, st->nw))
		return;
	km_api_defer(c, KM_KDF_HASH, st->nw, NULL, password_change_hashed, NULL, 0);
}

static void password_change(km_api_ctx_t *c)
{
	if (km_api_only(c, FIELDS("current", "new")))
		return;
	const char *nw = km_api_str(c, "new", KM_PASSWORD_INPUT_MAX);
	const char *cur = nw ? km_api_str(c, "current", KM_PASSWORD_INPUT_MAX) : NULL;
	if (!cur)
		return;
	struct pwchange_st st;
	memcpy(st.nw, nw, strlen(nw) + 1); /* at most KM_PASSWORD_INPUT_MAX bytes (km_api_str) */
	km_api_defer(c, KM_KDF_VERIFY, cur, c->user.pw_hash, password_change_checked, &st, sizeof st);
	OPENSSL_cleanse(&st, sizeof st);
}

const km_route_t km_api_auth_routes[] = {
	{ KM_POST, "/api/v1/auth/signin", KM_AUTH_NONE, NULL, signin },
	{ KM_POST, "/api/v1/auth/totp", KM_AUTH_STAGE, "password", second_factor },
	{ KM_POST, "/api/v1/auth/enrol/start", KM_AUTH_STAGE, "enrol,full", enrol_start },
	{ KM_POST, "/api/v1/auth/enrol/confirm", KM_AUTH_STAGE, "enrol,full", enrol_confirm },
	{ KM_POST, "/api/v1/auth/setup/check", KM_AUTH_NONE, NULL, setup_check },
	{ KM_POST, "/api/v1/auth/setup", KM_AUTH_NONE, NULL, setup },
	{ KM_POST, "/api/v1/auth/signout", KM_AUTH_STAGE, "password,enrol,full", signout },
	{ KM_GET, "/api/v1/auth/me", KM_AUTH_STAGE, "password,enrol,full", me },
	{ KM_GET, "/api/v1/auth/sessions", KM_AUTH_FULL, NULL, sessions_list },
	{ KM_DELETE, "/api/v1/auth/sessions/{id}", KM_AUTH_FULL, NULL, session_end },
	{ KM_POST, "/api/v1/auth/password", KM_AUTH_FULL, NULL, password_change },
	{ 0, NULL, 0, NULL, NULL },
};

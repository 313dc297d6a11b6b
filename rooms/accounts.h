/* accounts.h — organisations, their policy, user accounts, set-up links,
 * TOTP state, recovery codes and sign-in sessions in the store. Storage
 * only: no hashing policy decisions (callers hash with rooms/password.h and
 * rooms/codes.h and seal TOTP secrets with rooms/secretbox.h) and no audit
 * rows (callers write them). Secrets arrive here already hashed or sealed;
 * tokens this module makes (set-up links, session ids) are returned once in
 * clear and stored only as SHA-256.
 *
 * Every function returns 0 or a negative KM_E* code: KM_ENOTFOUND (no such
 * object), KM_EEXIST (unique name or email taken), KM_EINVAL (bad argument),
 * KM_EPERM (refused: replayed TOTP step, used code), KM_ESTORE (SQLite
 * failed; nothing was changed). Each write is one transaction.
 *
 * Times are UTC seconds passed in by the caller (`now`), so that tests and
 * the server's test clock control them.
 *
 * Threading: as the store (one thread per km_store_t). */
#ifndef KM_ACCOUNTS_H
#define KM_ACCOUNTS_H

#include "rooms/store.h"

#include <stddef.h>
#include <stdint.h>

#define KM_TOKEN_LEN 44 /* 43 base64url chars of a 256-bit token, and the NUL */

/* ---- organisations and policy ---- */

typedef struct km_org {
	int64_t id;
	char name[128];
	int64_t created_at;
} km_org_t;

typedef struct km_policy {
	long min_password_len;       /* 8..128, default 12 */
	long require_2fa;            /* 0|1, default 1 */
	long idle_timeout_min;       /* 1..240, default 15 */
	long session_max_hours;      /* 1..24, default 12 */
	long lockout_failures;       /* 3..100, default 10 */
	long lockout_minutes;        /* 1..1440, default 15 */
	long audit_retention_days;   /* 730..7300, default 1825 (NEN 7513: at least 2 years) */
	long calllog_retention_days; /* 1..3650, default 90 */
	long consult_max_hours;      /* 1..24, default 24 */
	long full_client_ip;         /* 0|1, default 0 (audit keeps /24 or /48) */
	long allow_aes128;           /* 0|1, default 0 (SRTP AES-128-GCM allowed) */
	long colleagues_wait;        /* 0|1, default 0 (colleagues are admitted without waiting) */
	long reconsent_on_join;      /* 0|1, default 0 (patients consent again when someone new is admitted) */
} km_policy_t;

void km_policy_defaults(km_policy_t *p);
/* The i-th field's name (NULL past the end), its allowed range, and a
 * pointer to it in p. For iterating: JSON, CLI flags, forms. */
const char *km_policy_field(km_policy_t *p, int i, long **value, long *min, long *max);
/* Sets one field by name with range checking; KM_EINVAL with a reason
 * ("idle_timeout_min must be from 1 to 240") for an unknown name or value. */
int km_policy_set(km_policy_t *p, const char *name, long value, char *err, size_t errlen);

/* Creates an organisation (name: 1..100 bytes, no control characters) with
 * the default policy. KM_EEXIST if the name is taken. */
int km_accounts_org_create(km_store_t *s, const char *name, int64_t now, int64_t *id_out);
int km_accounts_org_get(km_store_t *s, int64_t id, km_org_t *out);
/* Finds by exact name, or by id when ref is all digits. */
int km_accounts_org_find(km_store_t *s, const char *ref, km_org_t *out);
/* All organisations, ordered by id. *out is new (caller frees). */
int km_accounts_org_list(km_store_t *s, km_org_t **out, size_t *n);
int km_accounts_policy_get(km_store_t *s, int64_t org_id, km_policy_t *out);
int km_accounts_policy_put(km_store_t *s, int64_t org_id, const km_policy_t *p);

/* ---- users ---- */

#define KM_SEALED_MAX 128 /* sealed TOTP secret: 1 + 12 + 20 + 16 bytes fits */

typedef struct km_user {
	int64_t id, org_id;
	char email[256];
	char role[16];          /* "admin" | "clinician" */
	char pw_hash[192];      /* "" until the set-up link was used */
	uint8_t totp[KM_SEALED_MAX];
	size_t totp_len;        /* 0: no second factor enrolled */
	uint8_t totp_pending[KM_SEALED_MAX];
	size_t totp_pending_len; /* 0: no enrolment in progress */
	int64_t totp_last_step;
	int disabled;
	long failed_count;
	int64_t locked_until;
	int64_t created_at, pw_changed_at;
} km_user_t;

/* Adds a user (email: 3..254 bytes with one '@', stored as given, unique
 * case-insensitively; role "admin" or "clinician") to an existing org and a
 * set-up link valid 24 h from now; the link's token is written to
 * setup_token (once; only its SHA-256 is stored). KM_EEXIST if the email is
 * taken, KM_ENOTFOUND if the org is not there, KM_EINVAL for a bad email or
 * role; nothing is written then. */
/* 1 if email is acceptable to km_accounts_user_add (3..254 bytes of UTF-8
 * text without spaces or control characters, exactly one '@' with
 * something on both sides), else 0. */
int km_accounts_email_valid(const char *email);
int km_accounts_user_add(km_store_t *s, int64_t org_id, const char *email, const char *role,
			 int64_t now, int64_t *id_out, char setup_token[KM_TOKEN_LEN]);
int km_accounts_user_get(km_store_t *s, int64_t id, km_user_t *out);
int km_accounts_user_by_email(km_store_t *s, const char *email, km_user_t *out);
/* All users of an org, ordered by id. *out is new (caller frees). */
int km_accounts_user_list(km_store_t *s, int64_t org_id, km_user_t **out, size_t *n);
/* Disabling also ends all the user's sessions, in the same transaction. */
int km_accounts_user_set_disabled(km_store_t *s, int64_t id, int disabled);
int km_accounts_user_set_role(km_store_t *s, int64_t id, const char *role);
/* Removes the TOTP secret, any pending enrolment, the recovery codes and
 * all sessions (the user enrols again at the next sign-in). */
int km_accounts_user_reset_2fa(km_store_t *s, int64_t id);

/* A new set-up link for a user (valid 24 h), replacing any older one. */
int km_accounts_setup_link_new(km_store_t *s, int64_t user_id, int64_t now, char token[KM_TOKEN_LEN]);
/* Which user a set-up link belongs to, if it is valid now (not consumed). */
int km_accounts_setup_link_check(km_store_t *s, const char *token, int64_t now, int64_t *user_id);
/* In one transaction: checks the link, sets pw_hash (already hashed),
 * deletes the link, resets failed_count/locked_until and ends the user's
 * sessions. KM_ENOTFOUND for an unknown, used or expired link. */
int km_accounts_setup_link_use(km_store_t *s, const char *token, const char *pw_hash, int64_t now,
			       int64_t *user_id);

/* Sets a new password hash; ends all the user's sessions except
 * keep_session_id (0: end all). */
int km_accounts_set_password(km_store_t *s, int64_t user_id, const char *pw_hash, int64_t now,
			     int64_t keep_session_id);
/* Replaces the stored hash of the same password with a stronger one
 * (after a successful sign-in with weaker parameters); sessions stay. */
int km_accounts_rehash(km_store_t *s, int64_t user_id, const char *pw_hash);
/* A failed sign-in step: failed_count += 1; when it reaches
 * lockout_failures, locked_until = now + lockout_minutes*60, failed_count
 * back to 0 and *locked_now = 1. */
int km_accounts_record_failure(km_store_t *s, int64_t user_id, int64_t now, const km_policy_t *p,
			       int *locked_now);
/* A successful sign-in: failed_count = 0. */
int km_accounts_record_success(km_store_t *s, int64_t user_id);

/* TOTP: the sealed pending secret (enrolment started), its activation
 * (pending -> active, last step set to the step of the confirming code),
 * and the atomic use of a step: succeeds only if step > totp_last_step
 * (UPDATE ... WHERE totp_last_step < step), else KM_EPERM (replay). */
int km_accounts_totp_set_pending(km_store_t *s, int64_t user_id, const uint8_t *sealed, size_t len);
int km_accounts_totp_activate(km_store_t *s, int64_t user_id, int64_t step);
int km_accounts_totp_use_step(km_store_t *s, int64_t user_id, int64_t step);

/* Recovery codes: replaces the user's codes with these SHA-256 hex hashes
 * (of the normalised codes), and uses one (KM_ENOTFOUND if unknown or
 * already used). km_accounts_recovery_left counts the unused ones. */
int km_accounts_recovery_set(km_store_t *s, int64_t user_id, char hashes[][65], size_t n);
int km_accounts_recovery_use(km_store_t *s, int64_t user_id, const char *hash, int64_t now);
int km_accounts_recovery_left(km_store_t *s, int64_t user_id, long *left);

/* ---- sessions ---- */

typedef struct km_session {
	int64_t id;        /* public id (rowid), safe to show; never the token */
	int64_t user_id;
	char stage[16];    /* "password" (second factor to come), "enrol", "full" */
	int64_t created_at, last_seen, expires_at;
	char client_ip[48];
	char user_agent[128];
} km_session_t;

/* Creates a session; token (256-bit, base64url) returned once, stored as
 * SHA-256. user_agent is cut to 127 bytes. */
int km_accounts_session_new(km_store_t *s, int64_t user_id, const char *stage, int64_t now,
			    int64_t expires_at, const char *client_ip, const char *user_agent,
			    char token[KM_TOKEN_LEN], int64_t *id_out);
/* Looks a session up by its token (KM_ENOTFOUND if none). Does not check
 * times: the caller applies the idle and absolute limits of the policy. */
int km_accounts_session_get(km_store_t *s, const char *token, km_session_t *out);
int km_accounts_session_touch(km_store_t *s, int64_t id, int64_t now);
/* Moves a session to a new stage and gives it a new token (the old one
 * stops working), so that a session id never survives a privilege change. */
int km_accounts_session_promote(km_store_t *s, int64_t id, const char *stage, char token[KM_TOKEN_LEN]);
int km_accounts_session_end(km_store_t *s, int64_t id);
/* Ends one of user_id's sessions by public id: KM_ENOTFOUND if it is not
 * that user's (so nobody ends another user's session). */
int km_accounts_session_end_own(km_store_t *s, int64_t user_id, int64_t id);
int km_accounts_session_end_all(km_store_t *s, int64_t user_id, int64_t except_id);
/* The user's sessions, newest first. *out is new (caller frees). */
int km_accounts_session_list(km_store_t *s, int64_t user_id, km_session_t **out, size_t *n);

/* ---- transactions spanning several writes ---- */

/* Opens a write transaction (BEGIN IMMEDIATE) in which the km_accounts_*
 * writes above nest as savepoints, so that a caller can commit an accounts
 * change together with its audit row (km_audit_append_in_tx). KM_ESTORE if
 * it cannot (e.g. one is already open). */
int km_accounts_tx_begin(km_store_t *s);
/* Commits when rc == 0, else rolls back. Returns rc, or KM_ESTORE when the
 * commit failed (everything was rolled back). */
int km_accounts_tx_end(km_store_t *s, int rc);

#endif

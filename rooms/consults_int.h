/* consults_int.h — helpers shared by the rooms/consults*.c files:
 * transactions that nest, one-shot parameterised statements, text checks
 * and the call-log writer. Nothing outside rooms/consults*.c includes it.
 *
 * Threading: as the store. */
#ifndef KM_CONSULTS_INT_H
#define KM_CONSULTS_INT_H

#include "rooms/consults.h"
#include "rooms/store_int.h"

#include <stddef.h>
#include <stdint.h>

/* Transactions: km__store_begin/km__store_end in rooms/store_int.h. */

/* km__store_prepare and km__store_exec: rooms/store_int.h. */
/* Steps a prepared one-row query and finalizes it: its first column as an
 * integer. 0, KM_ENOTFOUND (no row) or KM_ESTORE. */
int km__cons_int(sqlite3_stmt *st, int64_t *out);

/* Copies text column col into out (len bytes); "" for NULL. 0, or
 * KM_ESTORE when it does not fit. */
int km__cons_col_text(sqlite3_stmt *st, int col, char *out, size_t len);

/* 1 if s (len bytes) is valid UTF-8 without control characters (with
 * allow_newlines, '\n', '\r' and '\t' are allowed too). */
int km__cons_clean_text(const char *s, size_t len, int allow_newlines);

/* 1 if st is one of the six participant states. */
int km__cons_state_valid(const char *st);

/* Inside a transaction: one call-log row. */
int km__cons_log(km_store_t *s, int64_t org_id, int64_t consult_id, int64_t ts, const char *event,
		 const char *role, const char *pseudonym);

/* A new token (base64url, 43 chars) and its SHA-256 hex; the token is
 * wiped on failure. 0 or KM_ECRYPTO. */
int km__cons_new_token(char token[KM_TOKEN_LEN], char hash[65]);
/* The SHA-256 hex of a presented token; KM_EINVAL for NULL or a token that
 * is not 43 base64url characters (so garbage is never looked up). */
int km__cons_token_hash(const char *token, char hash[65]);

#endif

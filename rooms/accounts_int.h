/* accounts_int.h — helpers shared by the accounts_*.c files: transactions
 * and one-shot parameterised statements. Nothing outside rooms/accounts*.c
 * includes it.
 *
 * Threading: as the store. */
#ifndef KM_ACCOUNTS_INT_H
#define KM_ACCOUNTS_INT_H

#include "rooms/accounts.h"
#include "rooms/store_int.h"

#include <stddef.h>
#include <stdint.h>

/* Transactions: km__store_begin/km__store_end in rooms/store_int.h. */

/* km__store_prepare and km__store_exec: rooms/store_int.h. */

/* Copies column col of st (text) into out (len bytes); "" for NULL.
 * Returns 0, or KM_ESTORE when it does not fit. */
int km__acc_col_text(sqlite3_stmt *st, int col, char *out, size_t len);

/* The SHA-256 hex of a token; KM_EINVAL for NULL or an over-long token. */
int km__acc_token_hash(const char *token, char out[65]);

/* 1 if s (len bytes) is valid UTF-8 without control characters. */
int km__acc_clean_text(const char *s, size_t len);

/* Inside a transaction: replaces user_id's set-up link by a new one valid
 * 24 h from now; token gets the link's token. 0, KM_ECRYPTO or KM_ESTORE. */
int km__acc_setup_link_put(km_store_t *s, int64_t user_id, int64_t now, char token[KM_TOKEN_LEN]);

/* Inside a transaction: ends all of user_id's sessions except except_id
 * (0: all). 0 or KM_ESTORE. */
int km__acc_sessions_end(km_store_t *s, int64_t user_id, int64_t except_id);

#endif

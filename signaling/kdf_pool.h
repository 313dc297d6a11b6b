/* kdf_pool.h — a small pool of worker threads that run password hashing
 * and verification (rooms/password.h: scrypt, about 150 ms each) so that the
 * signaling thread does not. Not the password policy, and not what a
 * result means (api_auth.c decides that).
 *
 * Jobs go in through a bounded queue; results come back through a second
 * queue, and the pool calls wake() (from a worker thread) after queueing
 * one: the owner's loop then calls km_kdf_pool_poll. The password is copied
 * into the job and wiped (OPENSSL_cleanse) as soon as it was used.
 *
 * Threading: km_kdf_pool_new, _verify, _hash, _poll and _free are called
 * from one thread, the owner (the signaling thread); the workers only run
 * the KDF and call wake(), which must therefore be safe from any thread
 * (lws_cancel_service is). */
#ifndef KM_KDF_POOL_H
#define KM_KDF_POOL_H

#include "rooms/password.h"

#include <stddef.h>

typedef struct km_kdf_pool km_kdf_pool_t;

enum km_kdf_kind { KM_KDF_VERIFY = 1, KM_KDF_HASH = 2 };

/* One finished job, as km_kdf_pool_poll returns it. */
typedef struct km_kdf_result {
	void *ud;             /* as given to _verify or _hash */
	int kind;             /* KM_KDF_VERIFY or KM_KDF_HASH */
	int rc;               /* km_password_verify's or km_password_hash's result */
	int needs_rehash;     /* verify: as km_password_verify sets it */
	char hash[KM_PASSWORD_HASH_MAX]; /* hash: the new stored string when rc == 0;
					  * verify: when needs_rehash, the password
					  * hashed anew ("" if that failed) */
} km_kdf_result_t;

typedef void (*km_kdf_wake_fn)(void *wake_ud);
typedef void (*km_kdf_drop_fn)(void *ud);

/* The default number of workers: 1, or 2 when the machine has 4 or more
 * cores (the media workers and the signaling thread need the rest). */
unsigned km_kdf_pool_default_threads(void);

/* Starts threads workers (0: the default) taking at most max_jobs jobs at
 * a time (queued, running, or done but not yet polled). wake(wake_ud) is
 * called from a worker after each result is queued, never after
 * km_kdf_pool_free began. drop(ud) (may be NULL) is called by
 * km_kdf_pool_free, on the owner thread, for the ud of every job whose
 * result was never polled. Returns 0 and *out (free with _free),
 * KM_EINVAL, KM_ENOMEM, or KM_EIO if a thread cannot start. */
int km_kdf_pool_new(unsigned threads, size_t max_jobs, km_kdf_wake_fn wake, void *wake_ud, km_kdf_drop_fn drop,
		    km_kdf_pool_t **out);

/* Stops the workers (each finishes the job it runs), then wipes and frees
 * every job left and calls drop(ud) for each. Accepts NULL. */
void km_kdf_pool_free(km_kdf_pool_t *p);

/* Queues km_password_verify(password, stored) and, when that matched and
 * asks for a rehash, km_password_hash(password) too, so that the caller
 * never keeps the password. Borrows password and stored (both copied). ud is returned with the result. Returns 0; KM_EBUSY when
 * max_jobs jobs are out (nothing queued); KM_ETOOBIG when stored does not
 * fit KM_PASSWORD_HASH_MAX; KM_EINVAL for NULL; KM_ENOMEM. */
int km_kdf_pool_verify(km_kdf_pool_t *p, const char *password, const char *stored, void *ud);

/* Queues km_password_hash(password). As km_kdf_pool_verify otherwise. */
int km_kdf_pool_hash(km_kdf_pool_t *p, const char *password, void *ud);

/* Moves up to max finished results into out (in the order they finished);
 * returns how many. The result's hash is the caller's to wipe. */
size_t km_kdf_pool_poll(km_kdf_pool_t *p, km_kdf_result_t *out, size_t max);

/* Jobs out (queued, running, or done but not polled). */
size_t km_kdf_pool_pending(const km_kdf_pool_t *p);

#endif

/* kdf_pool_test.c — the password KDF pool (signaling/kdf_pool.h): every
 * result comes back once (in any order) with the right outcome, the wake-up
 * comes from the worker, a full pool refuses, and freeing it with jobs
 * queued and running drops each of them once (clean under ASan). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/err.h"
#include "rooms/password.h"
#include "signaling/kdf_pool.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int wakes;
static int dropped[64];
static pthread_t owner;
static int woken_off_owner; /* wake() ran on a thread other than the test's */

static void wake(void *ud)
{
	pthread_mutex_lock(&mu);
	wakes++;
	if (!pthread_equal(pthread_self(), owner))
		woken_off_owner = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void drop(void *ud)
{
	dropped[(int)(intptr_t)ud]++;
}

static void reset(void)
{
	wakes = 0;
	woken_off_owner = 0;
	memset(dropped, 0, sizeof dropped);
	owner = pthread_self();
}

/* Polls until want results came (30 s at most), waiting on wake(). */
static size_t collect(km_kdf_pool_t *p, km_kdf_result_t *out, size_t want)
{
	size_t n = 0;
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 30;
	while (n < want) {
		n += km_kdf_pool_poll(p, out + n, want - n);
		if (n >= want)
			break;
		pthread_mutex_lock(&mu);
		int w = wakes;
		while (w == wakes && pthread_cond_timedwait(&cv, &mu, &dl) == 0)
			;
		int timed_out = w == wakes;
		pthread_mutex_unlock(&mu);
		if (timed_out)
			n += km_kdf_pool_poll(p, out + n, want - n);
		if (timed_out)
			break;
	}
	return n;
}

#define N 12

static void all_results_come_back(void **state)
{
	reset();
	char cheap[KM_PASSWORD_HASH_MAX];
	assert_int_equal(km_password_hash_params("the right one", 4, 8, 1, cheap, sizeof cheap), 0);
	km_kdf_pool_t *p;
	assert_int_equal(km_kdf_pool_new(2, 64, wake, NULL, drop, &p), 0);
	/* Even ids: verify (right password on id % 4 == 0); odd ids: hash. */
	for (int i = 0; i < N; i++) {
		if (i % 2 == 0)
			assert_int_equal(km_kdf_pool_verify(p, i % 4 == 0 ? "the right one" : "a wrong one", cheap,
							    (void *)(intptr_t)i), 0);
		else
			assert_int_equal(km_kdf_pool_hash(p, i % 3 ? "hash me" : "hash me too", (void *)(intptr_t)i), 0);
	}
	assert_int_equal(km_kdf_pool_pending(p), N);
	km_kdf_result_t r[N];
	assert_int_equal(collect(p, r, N), N);
	assert_int_equal(km_kdf_pool_pending(p), 0);
	int seen[N] = { 0 };
	for (int k = 0; k < N; k++) {
		int i = (int)(intptr_t)r[k].ud, rehash = 1;
		assert_true(i >= 0 && i < N);
		seen[i]++;
		if (i % 2 == 0) {
			assert_int_equal(r[k].kind, KM_KDF_VERIFY);
			assert_int_equal(r[k].rc, i % 4 == 0 ? 0 : KM_EPERM);
			/* ln=4 is below the defaults: a match asks for a rehash */
			assert_int_equal(r[k].needs_rehash, i % 4 == 0);
			if (i % 4 == 0) /* ... made in the worker, at the defaults */
				assert_int_equal(km_password_verify("the right one", r[k].hash, &rehash), 0);
			else
				assert_string_equal(r[k].hash, "");
		} else {
			assert_int_equal(r[k].kind, KM_KDF_HASH);
			assert_int_equal(r[k].rc, 0);
			assert_int_equal(km_password_verify(i % 3 ? "hash me" : "hash me too", r[k].hash, &rehash), 0);
			assert_int_equal(rehash, 0);
			assert_int_equal(km_password_verify("hash me not", r[k].hash, NULL), KM_EPERM);
		}
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	pthread_mutex_lock(&mu);
	assert_true(wakes >= 1);
	assert_true(woken_off_owner);
	pthread_mutex_unlock(&mu);
	assert_int_equal(km_kdf_pool_poll(p, r, N), 0);
	km_kdf_pool_free(p);
	for (int i = 0; i < N; i++)
		assert_int_equal(dropped[i], 0); /* all were polled */
}

static void full_pool_refuses(void **state)
{
	reset();
	km_kdf_pool_t *p;
	assert_int_equal(km_kdf_pool_new(1, 3, wake, NULL, drop, &p), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(km_kdf_pool_hash(p, "slow default cost", (void *)(intptr_t)i), 0);
	assert_int_equal(km_kdf_pool_hash(p, "one too many", (void *)(intptr_t)9), KM_EBUSY);
	assert_int_equal(km_kdf_pool_verify(p, "one too many", "$scrypt$x", (void *)(intptr_t)9), KM_EBUSY);
	/* A finished but unpolled job still counts: only polling frees a place. */
	km_kdf_result_t r[3];
	assert_int_equal(collect(p, r, 1), 1);
	assert_int_equal(km_kdf_pool_pending(p), 2);
	assert_int_equal(km_kdf_pool_hash(p, "now there is room", (void *)(intptr_t)3), 0);
	assert_int_equal(km_kdf_pool_hash(p, "but only for one", (void *)(intptr_t)9), KM_EBUSY);
	assert_int_equal(collect(p, r, 3), 3);
	km_kdf_pool_free(p);
	assert_int_equal(dropped[9], 0);
}

static void bad_input(void **state)
{
	reset();
	km_kdf_pool_t *p;
	char big[KM_PASSWORD_HASH_MAX + 10];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_int_equal(km_kdf_pool_new(1, 4, wake, NULL, NULL, &p), 0);
	assert_int_equal(km_kdf_pool_verify(p, "pw", big, NULL), KM_ETOOBIG);
	assert_int_equal(km_kdf_pool_verify(p, NULL, "x", NULL), KM_EINVAL);
	assert_int_equal(km_kdf_pool_verify(p, "pw", NULL, NULL), KM_EINVAL);
	assert_int_equal(km_kdf_pool_hash(NULL, "pw", NULL), KM_EINVAL);
	/* A malformed stored hash is the verify's answer, not the pool's. */
	assert_int_equal(km_kdf_pool_verify(p, "pw", "not a hash", NULL), 0);
	km_kdf_result_t r;
	assert_int_equal(collect(p, &r, 1), 1);
	assert_int_equal(r.rc, KM_EINVAL);
	km_kdf_pool_free(p);
	km_kdf_pool_free(NULL);
	assert_int_equal(km_kdf_pool_new(99, 4, wake, NULL, NULL, &p), KM_EINVAL);
	assert_null(p);
	assert_true(km_kdf_pool_default_threads() == 1 || km_kdf_pool_default_threads() == 2);
}

static void free_with_jobs_in_flight(void **state)
{
	reset();
	km_kdf_pool_t *p;
	assert_int_equal(km_kdf_pool_new(2, 64, wake, NULL, drop, &p), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(km_kdf_pool_hash(p, "in flight", (void *)(intptr_t)i), 0);
	/* Let the workers take a job each, then free while they run. */
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	km_kdf_pool_free(p);
	for (int i = 0; i < 10; i++)
		assert_int_equal(dropped[i], 1);
	/* And with results done but never polled. */
	reset();
	assert_int_equal(km_kdf_pool_new(1, 64, wake, NULL, drop, &p), 0);
	char cheap[KM_PASSWORD_HASH_MAX];
	assert_int_equal(km_password_hash_params("x", 2, 1, 1, cheap, sizeof cheap), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(km_kdf_pool_verify(p, "x", cheap, (void *)(intptr_t)i), 0);
	pthread_mutex_lock(&mu);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 30;
	while (wakes < 5 && pthread_cond_timedwait(&cv, &mu, &dl) == 0)
		;
	pthread_mutex_unlock(&mu);
	km_kdf_pool_free(p);
	for (int i = 0; i < 5; i++)
		assert_int_equal(dropped[i], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(all_results_come_back),
		cmocka_unit_test(full_pool_refuses),
		cmocka_unit_test(bad_input),
		cmocka_unit_test(free_with_jobs_in_flight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

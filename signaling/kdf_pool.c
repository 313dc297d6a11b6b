/* kdf_pool.c — worker threads for scrypt hashing and verification
 * (kdf_pool.h). Two singly linked FIFO lists under one mutex: jobs to run
 * and results to poll. The workers touch only the job they took; the
 * owner thread submits, polls and frees. */
#include "signaling/kdf_pool.h"

#include "core/err.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS_MAX 8

struct job {
	struct job *next;
	void *ud;
	int kind;
	char *password; /* owned copy, wiped and freed once used */
	size_t pwlen;
	km_kdf_result_t res;
	char stored[KM_PASSWORD_HASH_MAX];
};

struct list {
	struct job *head, *tail;
};

struct km_kdf_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct list todo, done; /* under mu */
	int stopping;           /* under mu */
	size_t out, max_jobs;   /* owner thread only */
	km_kdf_wake_fn wake;
	void *wake_ud;
	km_kdf_drop_fn drop;
	unsigned n_threads;
	pthread_t threads[THREADS_MAX];
};

static void push(struct list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct job *pop(struct list *l)
{
	struct job *j = l->head;
	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		j->next = NULL;
	}
	return j;
}

static void wipe_password(struct job *j)
{
	if (j->password) {
		OPENSSL_cleanse(j->password, j->pwlen);
		free(j->password);
		j->password = NULL;
	}
}

static void job_free(struct job *j)
{
	wipe_password(j);
	OPENSSL_cleanse(j, sizeof *j);
	free(j);
}

static void run(struct job *j)
{
	j->res.ud = j->ud;
	j->res.kind = j->kind;
	if (j->kind == KM_KDF_VERIFY) {
		j->res.rc = km_password_verify(j->password, j->stored, &j->res.needs_rehash);
		if (j->res.rc == 0 && j->res.needs_rehash &&
		    km_password_hash(j->password, j->res.hash, sizeof j->res.hash) != 0)
			j->res.hash[0] = 0;
	} else
		j->res.rc = km_password_hash(j->password, j->res.hash, sizeof j->res.hash);
	wipe_password(j);
	OPENSSL_cleanse(j->stored, sizeof j->stored);
}

static void *worker(void *arg)
{
	km_kdf_pool_t *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stopping && !p->todo.head)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stopping)
			break;
		struct job *j = pop(&p->todo);
		pthread_mutex_unlock(&p->mu);
		run(j);
		pthread_mutex_lock(&p->mu);
		push(&p->done, j);
		/* Under the lock: once _free set stopping, nobody wakes the
		 * owner's loop (which may be going away). */
		if (!p->stopping && p->wake)
			p->wake(p->wake_ud);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

unsigned km_kdf_pool_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n >= 4 ? 2 : 1;
}

int km_kdf_pool_new(unsigned threads, size_t max_jobs, km_kdf_wake_fn wake, void *wake_ud, km_kdf_drop_fn drop,
		    km_kdf_pool_t **out)
{
	*out = NULL;
	if (threads == 0)
		threads = km_kdf_pool_default_threads();
	if (threads > THREADS_MAX || max_jobs == 0)
		return KM_EINVAL;
	km_kdf_pool_t *p = calloc(1, sizeof *p);
	if (!p)
		return KM_ENOMEM;
	p->max_jobs = max_jobs;
	p->wake = wake;
	p->wake_ud = wake_ud;
	p->drop = drop;
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		return KM_ENOMEM;
	}
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return KM_ENOMEM;
	}
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			km_kdf_pool_free(p);
			return KM_EIO;
		}
		p->n_threads++;
	}
	*out = p;
	return 0;
}

static void drop_all(km_kdf_pool_t *p, struct list *l)
{
	struct job *j;
	while ((j = pop(l))) {
		void *ud = j->ud;
		job_free(j);
		if (p->drop)
			p->drop(ud);
	}
}

void km_kdf_pool_free(km_kdf_pool_t *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	drop_all(p, &p->done);
	drop_all(p, &p->todo);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static int submit(km_kdf_pool_t *p, int kind, const char *password, const char *stored, void *ud)
{
	if (!p || !password || (kind == KM_KDF_VERIFY && !stored))
		return KM_EINVAL;
	if (stored && strlen(stored) >= KM_PASSWORD_HASH_MAX)
		return KM_ETOOBIG;
	if (p->out >= p->max_jobs)
		return KM_EBUSY;
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return KM_ENOMEM;
	j->pwlen = strlen(password) + 1;
	j->password = malloc(j->pwlen);
	if (!j->password) {
		free(j);
		return KM_ENOMEM;
	}
	memcpy(j->password, password, j->pwlen);
	if (stored)
		memcpy(j->stored, stored, strlen(stored) + 1);
	j->kind = kind;
	j->ud = ud;
	p->out++;
	pthread_mutex_lock(&p->mu);
	push(&p->todo, j);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int km_kdf_pool_verify(km_kdf_pool_t *p, const char *password, const char *stored, void *ud)
{
	return submit(p, KM_KDF_VERIFY, password, stored, ud);
}

int km_kdf_pool_hash(km_kdf_pool_t *p, const char *password, void *ud)
{
	return submit(p, KM_KDF_HASH, password, NULL, ud);
}

size_t km_kdf_pool_poll(km_kdf_pool_t *p, km_kdf_result_t *out, size_t max)
{
	size_t n = 0;
	struct job *taken = NULL, **tail = &taken;
	pthread_mutex_lock(&p->mu);
	while (n < max && p->done.head) {
		*tail = pop(&p->done);
		tail = &(*tail)->next;
		n++;
	}
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < n; i++) {
		struct job *j = taken;
		taken = j->next;
		out[i] = j->res;
		job_free(j);
	}
	p->out -= n;
	return n;
}

size_t km_kdf_pool_pending(const km_kdf_pool_t *p)
{
	return p ? p->out : 0;
}

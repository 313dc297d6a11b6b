/* mailer.c — the SMTP sending thread (mailer.h). */
#include "signaling/mailer.h"

#include "core/err.h"
#include "core/log.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 256
#define RESULTS_MAX 256

struct job {
	struct job *next;
	int64_t invitation_id;
	char from[256], to[256];
	size_t len;
	char msg[];
};

struct km_mailer {
	km_smtp_config_t cfg;
	char url[512], user[256], pass[256], ca[4096];
	void (*wake)(void *);
	void *ud;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	int queued, stop;
	km_mailer_result_t results[RESULTS_MAX];
	size_t nresults;
};

static void *run(void *arg)
{
	km_mailer_t *m = arg;
	pthread_mutex_lock(&m->lock);
	for (;;) {
		while (!m->head && !m->stop)
			pthread_cond_wait(&m->cond, &m->lock);
		if (m->stop)
			break;
		struct job *j = m->head;
		m->head = j->next;
		if (!m->head)
			m->tail = NULL;
		m->queued--;
		pthread_mutex_unlock(&m->lock);

		km_mailer_result_t r = { .invitation_id = j->invitation_id };
		r.rc = km_mail_smtp_send(&m->cfg, j->from, j->to, j->msg, j->len, r.error, sizeof r.error);
		if (r.rc == 0)
			r.error[0] = 0;
		km_info("mail", r.rc ? "smtp_failed" : "smtp_sent", "invitation=%lld", (long long)j->invitation_id);
		OPENSSL_cleanse(j, sizeof *j + j->len);
		free(j);

		pthread_mutex_lock(&m->lock);
		if (m->nresults < RESULTS_MAX)
			m->results[m->nresults++] = r;
		pthread_mutex_unlock(&m->lock);
		if (m->wake)
			m->wake(m->ud);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

static const char *copy(char *dst, size_t cap, const char *src)
{
	if (!src)
		return NULL;
	snprintf(dst, cap, "%s", src);
	return dst;
}

km_mailer_t *km_mailer_new(const km_smtp_config_t *cfg, void (*wake)(void *), void *ud)
{
	km_mailer_t *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->cfg = *cfg;
	m->cfg.url = copy(m->url, sizeof m->url, cfg->url);
	m->cfg.username = copy(m->user, sizeof m->user, cfg->username);
	m->cfg.password = copy(m->pass, sizeof m->pass, cfg->password);
	m->cfg.ca_file = copy(m->ca, sizeof m->ca, cfg->ca_file);
	m->wake = wake;
	m->ud = ud;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	if (pthread_create(&m->thread, NULL, run, m) != 0) {
		pthread_mutex_destroy(&m->lock);
		pthread_cond_destroy(&m->cond);
		free(m);
		return NULL;
	}
	return m;
}

void km_mailer_free(km_mailer_t *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = 1;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	while (m->head) {
		struct job *n = m->head->next;
		OPENSSL_cleanse(m->head, sizeof *m->head + m->head->len);
		free(m->head);
		m->head = n;
	}
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	OPENSSL_cleanse(m, sizeof *m);
	free(m);
}

int km_mailer_submit(km_mailer_t *m, int64_t invitation_id, const char *from, const char *to, const char *msg,
		     size_t len)
{
	struct job *j = malloc(sizeof *j + len + 1);
	if (!j)
		return KM_ENOMEM;
	j->next = NULL;
	j->invitation_id = invitation_id;
	snprintf(j->from, sizeof j->from, "%s", from);
	snprintf(j->to, sizeof j->to, "%s", to);
	j->len = len;
	memcpy(j->msg, msg, len);
	j->msg[len] = 0;
	pthread_mutex_lock(&m->lock);
	if (m->queued >= QUEUE_MAX) {
		pthread_mutex_unlock(&m->lock);
		OPENSSL_cleanse(j, sizeof *j + len);
		free(j);
		return KM_EBUSY;
	}
	if (m->tail)
		m->tail->next = j;
	else
		m->head = j;
	m->tail = j;
	m->queued++;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

size_t km_mailer_poll(km_mailer_t *m, km_mailer_result_t *out, size_t max)
{
	pthread_mutex_lock(&m->lock);
	size_t n = m->nresults < max ? m->nresults : max;
	memcpy(out, m->results, n * sizeof *out);
	memmove(m->results, m->results + n, (m->nresults - n) * sizeof *out);
	m->nresults -= n;
	pthread_mutex_unlock(&m->lock);
	return n;
}

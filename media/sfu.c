/* sfu.c — the SFU's signaling side (see sfu.h): the picture of rooms,
 * members, published tracks and subscribe offers; SDP in and out; commands
 * to the workers and their events back. Signaling thread only. */
#include "media/sfu_int.h"

#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

typedef struct m_room m_room_t;

typedef struct m_member {
	uint64_t id;
	m_room_t *room;
	bool pub, echo;
	uint8_t ntracks;
	km_neg_track_t tracks[KM_NEG_MAX_TRACKS];
	char pub_ufrag[KM_SDP_MAX_UFRAG + 1]; /* the publisher's ICE ufrag and DTLS */
	uint8_t pub_fp[32];                   /* fingerprint (an ICE restart keeps the latter) */
	/* subscribe side */
	bool wants_sub, sub_open, sub_remote_set, awaiting, dirty;
	char sub_ufrag[9], sub_pwd[25];
	uint64_t version;
	size_t nouts;
	km_neg_out_t outs[KM_NEG_MAX_OUTS];
	sfu_out_spec_t specs[KM_NEG_MAX_OUTS];
	size_t noffered;                          /* what the outstanding offer said */
	km_neg_out_t offered[KM_NEG_MAX_OUTS];
	sfu_out_spec_t offered_specs[KM_NEG_MAX_OUTS];
	struct m_member *next;
} m_member_t;

struct m_room {
	uint64_t id;
	unsigned worker;
	unsigned profiles; /* KM_DTLS_* bits for new connections */
	m_member_t *members;
	m_room_t *next;
};

struct km_sfu {
	km_sfu_config_t cfg;
	char **addresses;
	km_dtls_cert_t *cert;
	uint8_t fingerprint[32];
	unsigned nworkers, next_worker;
	km_worker_t **workers;
	sfu_wstate_t **wstates;
	m_room_t *rooms;
	km_sfu_event_t *events; /* own events (offers), oldest first */
	size_t nevents, capevents;
	uint64_t events_lost;
};

const char *km_sfu_conn_name(km_sfu_conn_kind_t k)
{
	return k == KM_SFU_PUB ? "pub" : k == KM_SFU_SUB ? "sub" : "echo";
}

static void random_ice(char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[64];
	if (getrandom(r, n, 0) != (ssize_t)n)
		abort(); /* the kernel's random source is required */
	for (size_t i = 0; i < n; i++)
		out[i] = set[r[i] & 63];
	out[n] = 0;
}

static uint32_t random_ssrc(void)
{
	uint32_t v = 0;
	while (v < 2 && getrandom(&v, sizeof v, 0) == sizeof v)
		;
	return v;
}

/* ---- own events ---- */

static void emit(km_sfu_t *sfu, const km_sfu_event_t *ev)
{
	if (sfu->nevents == sfu->capevents) {
		size_t cap = sfu->capevents ? sfu->capevents * 2 : 16;
		km_sfu_event_t *n = realloc(sfu->events, cap * sizeof *n);
		if (!n) {
			free(ev->sdp);
			sfu->events_lost++;
			return;
		}
		sfu->events = n;
		sfu->capevents = cap;
	}
	sfu->events[sfu->nevents++] = *ev;
}

/* ---- mirror ---- */

static m_room_t *room_get(km_sfu_t *sfu, uint64_t id, bool create)
{
	for (m_room_t *r = sfu->rooms; r; r = r->next)
		if (r->id == id)
			return r;
	if (!create)
		return NULL;
	m_room_t *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->id = id;
	r->worker = sfu->next_worker++ % sfu->nworkers;
	r->next = sfu->rooms;
	sfu->rooms = r;
	return r;
}

static m_member_t *member_find(km_sfu_t *sfu, uint64_t id)
{
	for (m_room_t *r = sfu->rooms; r; r = r->next)
		for (m_member_t *m = r->members; m; m = m->next)
			if (m->id == id)
				return m;
	return NULL;
}

static m_member_t *member_get(km_sfu_t *sfu, uint64_t room, uint64_t id)
{
	m_member_t *m = member_find(sfu, id);
	if (m)
		return m->room->id == room ? m : NULL;
	m_room_t *r = room_get(sfu, room, true);
	if (!r || !(m = calloc(1, sizeof *m)))
		return NULL;
	m->id = id;
	m->room = r;
	m->next = r->members;
	r->members = m;
	return m;
}

static void member_drop_if_idle(km_sfu_t *sfu, m_member_t *m)
{
	if (m->pub || m->echo || m->wants_sub || m->sub_open)
		return;
	m_room_t *r = m->room;
	for (m_member_t **pp = &r->members; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	free(m);
	if (r->members)
		return;
	for (m_room_t **pp = &sfu->rooms; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r);
}

static int call(km_sfu_t *sfu, m_room_t *r, void (*fn)(void *), void *cmd)
{
	if (km_worker_call(sfu->workers[r->worker], fn, cmd) != 0) {
		free(cmd);
		return KM_EBUSY;
	}
	return 0;
}

static void send_close(km_sfu_t *sfu, m_member_t *m, km_sfu_conn_kind_t k)
{
	sfu_cmd_close_t *cmd = calloc(1, sizeof *cmd);
	if (!cmd)
		return;
	cmd->ws = sfu->wstates[m->room->worker];
	cmd->room = m->room->id;
	cmd->conn = sfu_conn_id(m->id, k);
	call(sfu, m->room, sfu_w_close, cmd);
}

/* ---- subscribe offers ---- */

static bool source_live(const m_room_t *r, const sfu_out_spec_t *s, const km_neg_out_t *o)
{
	for (const m_member_t *p = r->members; p; p = p->next)
		if (p->pub && sfu_conn_id(p->id, KM_SFU_PUB) == s->src_conn)
			for (size_t i = 0; i < p->ntracks; i++)
				if (strcmp(p->tracks[i].mid, s->src_mid) == 0 && p->tracks[i].kind == o->kind)
					return true;
	return false;
}

static bool has_out(const m_member_t *m, uint64_t src_conn, const char *mid)
{
	for (size_t i = 0; i < m->nouts; i++)
		if (m->outs[i].active && m->specs[i].src_conn == src_conn && strcmp(m->specs[i].src_mid, mid) == 0)
			return true;
	return false;
}

static void add_out(m_member_t *m, const m_member_t *p, const km_neg_track_t *t)
{
	size_t i = 0;
	while (i < m->nouts && (m->outs[i].active || m->outs[i].kind != t->kind))
		i++;
	if (i == m->nouts) {
		if (m->nouts == KM_NEG_MAX_OUTS)
			return;
		m->nouts++;
	}
	km_neg_out_t *o = &m->outs[i];
	sfu_out_spec_t *s = &m->specs[i];
	memset(o, 0, sizeof *o);
	memset(s, 0, sizeof *s);
	o->active = true;
	o->kind = t->kind;
	o->ssrc = random_ssrc();
	snprintf(o->stream, sizeof o->stream, "k%llu", (unsigned long long)p->id);
	snprintf(o->track, sizeof o->track, "k%llu-%s", (unsigned long long)p->id, t->mid);
	s->kind = t->kind;
	s->ssrc = o->ssrc;
	s->pt = t->kind == KM_SDP_AUDIO ? KM_NEG_PT_OPUS : KM_NEG_PT_VP8;
	s->src_conn = sfu_conn_id(p->id, KM_SFU_PUB);
	snprintf(s->src_mid, sizeof s->src_mid, "%s", t->mid);
}

/* Brings m's outs in line with who publishes in the room; true if changed. */
static bool replan(m_member_t *m)
{
	bool changed = false;
	for (size_t i = 0; i < m->nouts; i++)
		if (m->outs[i].active && !source_live(m->room, &m->specs[i], &m->outs[i])) {
			m->outs[i].active = false;
			m->outs[i].stream[0] = m->outs[i].track[0] = 0;
			changed = true;
		}
	for (const m_member_t *p = m->room->members; p; p = p->next) {
		if (p == m || !p->pub)
			continue;
		for (size_t i = 0; i < p->ntracks; i++)
			if (!has_out(m, sfu_conn_id(p->id, KM_SFU_PUB), p->tracks[i].mid)) {
				add_out(m, p, &p->tracks[i]);
				changed = true;
			}
	}
	return changed;
}

static bool any_active(const m_member_t *m)
{
	for (size_t i = 0; i < m->nouts; i++)
		if (m->outs[i].active)
			return true;
	return false;
}

static int open_sub_conn(km_sfu_t *sfu, m_member_t *m)
{
	sfu_cmd_open_t *cmd = calloc(1, sizeof *cmd);
	if (!cmd)
		return KM_ENOMEM;
	random_ice(m->sub_ufrag, 8);
	random_ice(m->sub_pwd, 24);
	cmd->ws = sfu->wstates[m->room->worker];
	cmd->room = m->room->id;
	cmd->conn = sfu_conn_id(m->id, KM_SFU_SUB);
	cmd->kind = KM_SFU_SUB;
	cmd->profiles = m->room->profiles;
	snprintf(cmd->ufrag, sizeof cmd->ufrag, "%s", m->sub_ufrag);
	snprintf(cmd->pwd, sizeof cmd->pwd, "%s", m->sub_pwd);
	int rc = call(sfu, m->room, sfu_w_open, cmd);
	if (!rc) {
		m->sub_open = true;
		m->sub_remote_set = false;
	}
	return rc;
}

/* Sends m a new subscribe offer if it wants one and none is outstanding. */
static void maybe_offer(km_sfu_t *sfu, m_member_t *m)
{
	if (!m->wants_sub || m->awaiting || !m->dirty || (!m->sub_open && !any_active(m)) || m->nouts == 0)
		return;
	km_sdp_t *sdp = malloc(sizeof *sdp);
	char *text = malloc(KM_SDP_MAX_LEN);
	char err[256];
	size_t len;
	if (!sdp || !text || (!m->sub_open && open_sub_conn(sfu, m) != 0))
		goto out;
	km_neg_local_t local = { .ufrag = m->sub_ufrag, .pwd = m->sub_pwd, .sess_id = m->id,
				 .version = m->version + 1 };
	memcpy(local.fingerprint, sfu->fingerprint, 32);
	if (km_neg_offer_subscribe(m->outs, m->nouts, &local, sdp, err, sizeof err) != 0 ||
	    km_sdp_write(sdp, text, KM_SDP_MAX_LEN, &len, err, sizeof err) != 0)
		goto out; /* cannot happen with outs made here */
	m->version++;
	m->awaiting = true;
	m->dirty = false;
	m->noffered = m->nouts;
	memcpy(m->offered, m->outs, sizeof m->outs);
	memcpy(m->offered_specs, m->specs, sizeof m->specs);
	km_sfu_event_t ev = { .type = KM_SFU_EV_OFFER, .member = m->id, .conn = KM_SFU_SUB, .version = m->version,
			      .sdp = text };
	text = NULL;
	emit(sfu, &ev);
out:
	free(sdp);
	free(text);
}

/* Someone in r started or stopped publishing: everyone else renegotiates. */
static void room_changed(km_sfu_t *sfu, m_room_t *r)
{
	for (m_member_t *m = r->members; m; m = m->next)
		if (m->wants_sub) {
			if (replan(m))
				m->dirty = true;
			maybe_offer(sfu, m);
		}
}

/* ---- API ---- */

static int parse_offer(const char *text, size_t len, km_sdp_t *sdp, char *err, size_t errlen)
{
	if (!text || len == 0)
		return km_errf(KM_EINVAL, err, errlen, "empty SDP");
	int rc = km_sdp_parse(text, len, sdp, err, errlen);
	return rc ? KM_EINVAL : 0;
}

static int answer_text(const km_sdp_t *ans, char **out, char *err, size_t errlen)
{
	size_t len;
	char *text = malloc(KM_SDP_MAX_LEN);
	if (!text)
		return km_errf(KM_ENOMEM, err, errlen, "out of memory");
	if (km_sdp_write(ans, text, KM_SDP_MAX_LEN, &len, err, errlen) != 0) {
		free(text);
		return KM_EINVAL;
	}
	*out = text;
	return 0;
}

/* A re-offer on the open publish connection with new ICE credentials, the
 * same DTLS certificate and the same tracks: an ICE restart. */
static bool is_ice_restart(const m_member_t *m, int echo, const km_neg_publish_t *pub)
{
	return !echo && m->pub && memcmp(m->pub_fp, pub->transport.fingerprint, sizeof m->pub_fp) == 0 &&
	       strcmp(m->pub_ufrag, pub->transport.ufrag) != 0 && m->ntracks == pub->ntracks &&
	       memcmp(m->tracks, pub->tracks, sizeof m->tracks) == 0;
}

int km_sfu_offer(km_sfu_t *sfu, uint64_t room, uint64_t member, int echo, const char *sdp, size_t len,
		 char **answer, char *err, size_t errlen)
{
	if (!sfu || !answer || member == 0 || member > UINT64_MAX / 4)
		return km_errf(KM_EINVAL, err, errlen, "bad argument");
	*answer = NULL;
	km_sdp_t *offer = malloc(sizeof *offer), *ans = malloc(sizeof *ans);
	sfu_cmd_open_t *cmd = calloc(1, sizeof *cmd);
	km_neg_publish_t *pub = calloc(1, sizeof *pub);
	m_member_t *m = member_get(sfu, room, member);
	int rc = KM_ENOMEM;
	if (!offer || !ans || !cmd || !pub || !m) {
		km_errf(KM_ENOMEM, err, errlen, m ? "out of memory" : "member belongs to another room");
		goto out;
	}
	if ((rc = parse_offer(sdp, len, offer, err, errlen)) != 0)
		goto out;
	km_sfu_conn_kind_t kind = echo ? KM_SFU_ECHO : KM_SFU_PUB;
	random_ice(cmd->ufrag, 8);
	random_ice(cmd->pwd, 24);
	km_neg_local_t local = { .ufrag = cmd->ufrag, .pwd = cmd->pwd, .sess_id = member, .version = 2 };
	memcpy(local.fingerprint, sfu->fingerprint, 32);
	cmd->echo_ssrc_base = random_ssrc() & 0x7fffff00u;
	if (km_neg_answer_publish(offer, &local, echo, cmd->echo_ssrc_base, ans, pub, err, errlen) != 0) {
		rc = KM_EINVAL;
		goto out;
	}
	if ((rc = answer_text(ans, answer, err, errlen)) != 0)
		goto out;
	cmd->ws = sfu->wstates[m->room->worker];
	cmd->room = room;
	cmd->conn = sfu_conn_id(member, kind);
	cmd->kind = kind;
	cmd->profiles = m->room->profiles;
	cmd->has_remote = true;
	cmd->remote = pub->transport;
	cmd->ntracks = pub->ntracks;
	memcpy(cmd->tracks, pub->tracks, sizeof pub->tracks);
	if (is_ice_restart(m, echo, pub)) {
		/* The same browser connection with new ICE credentials: its ICE
		 * starts over, its DTLS, SRTP and tracks carry on. */
		rc = call(sfu, m->room, sfu_w_restart, cmd);
		cmd = NULL;
		if (rc) {
			km_errf(rc, err, errlen, "no media worker available");
			free(*answer);
			*answer = NULL;
		} else {
			snprintf(m->pub_ufrag, sizeof m->pub_ufrag, "%s", pub->transport.ufrag);
		}
		goto out;
	}
	rc = call(sfu, m->room, sfu_w_open, cmd);
	cmd = NULL;
	if (rc) {
		km_errf(rc, err, errlen, "no media worker available");
		free(*answer);
		*answer = NULL;
		goto out;
	}
	if (echo) {
		m->echo = true;
	} else {
		m->pub = true;
		m->ntracks = pub->ntracks;
		memcpy(m->tracks, pub->tracks, sizeof pub->tracks);
		snprintf(m->pub_ufrag, sizeof m->pub_ufrag, "%s", pub->transport.ufrag);
		memcpy(m->pub_fp, pub->transport.fingerprint, sizeof m->pub_fp);
		room_changed(sfu, m->room);
	}
out:
	if (rc && m)
		member_drop_if_idle(sfu, m);
	free(offer);
	free(ans);
	free(cmd);
	free(pub);
	return rc;
}

void km_sfu_room_policy(km_sfu_t *sfu, uint64_t room, int allow_aes128)
{
	m_room_t *r = sfu ? room_get(sfu, room, true) : NULL;
	if (r)
		r->profiles = KM_DTLS_AES256GCM | (allow_aes128 ? KM_DTLS_AES128GCM : 0);
}

int km_sfu_subscribe(km_sfu_t *sfu, uint64_t room, uint64_t member)
{
	m_member_t *m = sfu && member && member <= UINT64_MAX / 4 ? member_get(sfu, room, member) : NULL;
	if (!m)
		return KM_EINVAL;
	if (!m->wants_sub) {
		m->wants_sub = true;
		m->dirty = replan(m) || m->dirty;
	}
	maybe_offer(sfu, m);
	return 0;
}

int km_sfu_answer(km_sfu_t *sfu, uint64_t member, uint64_t version, const char *sdp, size_t len, char *err,
		  size_t errlen)
{
	m_member_t *m = sfu ? member_find(sfu, member) : NULL;
	if (m && version < m->version) /* a race, not a fault: the newer offer is on its way */
		return km_errf(KM_EEXPIRED, err, errlen, "offer version %llu was replaced by version %llu",
			       (unsigned long long)version, (unsigned long long)m->version);
	if (!m || !m->awaiting || version != m->version)
		return km_errf(KM_EPERM, err, errlen, "no offer of version %llu is outstanding",
			       (unsigned long long)version);
	km_sdp_t *ans = malloc(sizeof *ans);
	km_neg_subscribe_t *res = malloc(sizeof *res);
	sfu_cmd_outs_t *cmd = calloc(1, sizeof *cmd);
	int rc = KM_ENOMEM;
	if (!ans || !res || !cmd)
		goto out;
	if ((rc = parse_offer(sdp, len, ans, err, errlen)) != 0)
		goto out;
	if (km_neg_read_subscribe_answer(ans, m->offered, m->noffered, res, err, errlen) != 0) {
		rc = KM_EINVAL;
		goto out;
	}
	cmd->ws = sfu->wstates[m->room->worker];
	cmd->room = m->room->id;
	cmd->conn = sfu_conn_id(m->id, KM_SFU_SUB);
	cmd->has_remote = !m->sub_remote_set;
	cmd->remote = res->transport;
	cmd->n = m->noffered;
	for (size_t i = 0; i < cmd->n; i++) {
		cmd->outs[i] = m->offered_specs[i];
		cmd->outs[i].accepted = res->sections[i].accepted;
		cmd->outs[i].ext_abs = res->sections[i].ext_abs_send_time;
		cmd->outs[i].ext_level = res->sections[i].ext_audio_level;
	}
	rc = call(sfu, m->room, sfu_w_outs, cmd);
	cmd = NULL;
	if (rc)
		goto out;
	m->sub_remote_set = true;
	m->awaiting = false;
	maybe_offer(sfu, m); /* changes that came while this offer was out */
out:
	free(ans);
	free(res);
	free(cmd);
	return rc;
}

int km_sfu_candidate(km_sfu_t *sfu, uint64_t member, km_sfu_conn_kind_t conn, const char *candidate)
{
	m_member_t *m = sfu ? member_find(sfu, member) : NULL;
	bool open = m && (conn == KM_SFU_PUB ? m->pub : conn == KM_SFU_SUB ? m->sub_open : m->echo);
	if (!open)
		return KM_ENOTFOUND;
	sfu_cmd_cand_t *cmd = calloc(1, sizeof *cmd);
	if (!cmd)
		return KM_ENOMEM;
	if (candidate && strlen(candidate) > KM_ICE_CANDIDATE_MAX) {
		free(cmd);
		return KM_ETOOBIG;
	}
	cmd->ws = sfu->wstates[m->room->worker];
	cmd->room = m->room->id;
	cmd->conn = sfu_conn_id(member, conn);
	snprintf(cmd->text, sizeof cmd->text, "%s", candidate ? candidate : "");
	return call(sfu, m->room, sfu_w_candidate, cmd);
}

/* Forgets one connection in the mirror (the worker already has, or will). */
static void forget(km_sfu_t *sfu, m_member_t *m, km_sfu_conn_kind_t k)
{
	if (k == KM_SFU_PUB && m->pub) {
		m->pub = false;
		m->ntracks = 0;
		room_changed(sfu, m->room);
	} else if (k == KM_SFU_SUB) {
		m->wants_sub = m->sub_open = m->awaiting = m->dirty = false;
		m->nouts = m->noffered = 0;
	} else if (k == KM_SFU_ECHO) {
		m->echo = false;
	}
	member_drop_if_idle(sfu, m);
}

void km_sfu_close(km_sfu_t *sfu, uint64_t member, km_sfu_conn_kind_t conn)
{
	m_member_t *m = sfu ? member_find(sfu, member) : NULL;
	if (!m)
		return;
	send_close(sfu, m, conn);
	forget(sfu, m, conn);
}

void km_sfu_leave(km_sfu_t *sfu, uint64_t member)
{
	m_member_t *m = sfu ? member_find(sfu, member) : NULL;
	if (!m)
		return;
	bool pub = m->pub;
	m_room_t *r = m->room;
	for (int k = KM_SFU_PUB; k <= KM_SFU_ECHO; k++)
		send_close(sfu, m, (km_sfu_conn_kind_t)k);
	m->pub = m->echo = m->wants_sub = m->sub_open = false;
	m->ntracks = 0;
	if (pub) /* before m may be freed: r lives while others are in it */
		room_changed(sfu, r);
	member_drop_if_idle(sfu, m);
}

void km_sfu_close_room(km_sfu_t *sfu, uint64_t room)
{
	m_room_t *r = sfu ? room_get(sfu, room, false) : NULL;
	if (!r)
		return;
	sfu_cmd_close_t *cmd = calloc(1, sizeof *cmd);
	if (cmd) {
		cmd->ws = sfu->wstates[r->worker];
		cmd->room = room;
		call(sfu, r, sfu_w_close, cmd);
	}
	while (r->members) {
		m_member_t *m = r->members;
		r->members = m->next;
		free(m);
	}
	for (m_room_t **pp = &sfu->rooms; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r);
}

/* Turns one worker event into an SFU event; false if it is not for the caller. */
static bool translate(km_sfu_t *sfu, const km_media_event_t *e, km_sfu_event_t *out)
{
	memset(out, 0, sizeof *out);
	out->member = sfu_conn_member(e->conn_id);
	out->conn = sfu_conn_kind(e->conn_id);
	m_member_t *m = member_find(sfu, out->member);
	switch (e->type) {
	case KM_MEDIA_EV_ICE_CANDIDATE:
	case KM_MEDIA_EV_ICE_GATHERED:
		out->type = KM_SFU_EV_CANDIDATE;
		snprintf(out->text, sizeof out->text, "%s", e->type == KM_MEDIA_EV_ICE_CANDIDATE ? e->text : "");
		return m != NULL;
	case SFU_EV_STATE:
		out->type = KM_SFU_EV_STATE;
		out->state = e->code == KM_CONN_CONNECTED ? "connected" : e->code == KM_CONN_FAILED ? "failed" : "closed";
		snprintf(out->text, sizeof out->text, "%s", e->text);
		if (e->code != KM_CONN_CONNECTED && m)
			forget(sfu, m, out->conn);
		return m != NULL || e->code != KM_CONN_CONNECTED;
	case KM_MEDIA_EV_OVERFLOW:
		sfu->events_lost += (uint64_t)e->code;
		return false;
	default:
		return false;
	}
}

size_t km_sfu_poll(km_sfu_t *sfu, km_sfu_event_t *out, size_t max)
{
	size_t n = 0;
	if (!sfu || !out)
		return 0;
	while (n < max && sfu->nevents) {
		out[n++] = sfu->events[0];
		memmove(sfu->events, sfu->events + 1, (--sfu->nevents) * sizeof *sfu->events);
	}
	for (unsigned w = 0; w < sfu->nworkers && n < max; w++) {
		km_media_event_t ev[16];
		size_t want = max - n < 16 ? max - n : 16, got;
		do {
			got = km_worker_poll_events(sfu->workers[w], ev, want);
			for (size_t i = 0; i < got; i++)
				if (translate(sfu, &ev[i], &out[n]))
					n++;
			want = max - n < 16 ? max - n : 16;
		} while (got > 0 && n < max);
	}
	/* forget() may have queued offers: they go out on the next poll */
	return n;
}

void km_sfu_stats(km_sfu_t *sfu, km_sfu_stats_t *out)
{
	memset(out, 0, sizeof *out);
	if (!sfu)
		return;
	for (m_room_t *r = sfu->rooms; r; r = r->next) {
		out->rooms++;
		for (m_member_t *m = r->members; m; m = m->next) {
			out->members++;
			out->connections += (uint64_t)m->pub + m->echo + m->sub_open;
		}
	}
	out->events_lost = sfu->events_lost;
	for (unsigned w = 0; w < sfu->nworkers; w++) {
		out->events_lost += km_worker_events_lost(sfu->workers[w]);
		out->worker_rooms += (uint64_t)__atomic_load_n(&sfu->wstates[w]->live_rooms, __ATOMIC_RELAXED);
		out->worker_connections += (uint64_t)__atomic_load_n(&sfu->wstates[w]->live_conns, __ATOMIC_RELAXED);
	}
}

static int hex_fingerprint(const char *hex, uint8_t out[32])
{
	for (size_t i = 0; i < 32; i++) {
		unsigned v;
		if (sscanf(hex + i * 3, "%2x", &v) != 1)
			return KM_ECRYPTO;
		out[i] = (uint8_t)v;
	}
	return 0;
}

int km_sfu_new(const km_sfu_config_t *cfg, km_sfu_t **out, char *err, size_t errlen)
{
	if (!cfg || !out || !cfg->addresses || cfg->n_addresses == 0 || cfg->n_addresses > KM_ICE_MAX_ADDRS)
		return km_errf(KM_EINVAL, err, errlen, "media needs 1..%d addresses", KM_ICE_MAX_ADDRS);
	km_sfu_t *sfu = calloc(1, sizeof *sfu);
	if (!sfu)
		return km_errf(KM_ENOMEM, err, errlen, "out of memory");
	sfu->cfg = *cfg;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	sfu->nworkers = cfg->workers ? cfg->workers : cpus > 0 ? (unsigned)cpus : 1;
	if (sfu->nworkers > 64)
		sfu->nworkers = 64;
	sfu->addresses = calloc(cfg->n_addresses, sizeof *sfu->addresses);
	sfu->workers = calloc(sfu->nworkers, sizeof *sfu->workers);
	sfu->wstates = calloc(sfu->nworkers, sizeof *sfu->wstates);
	int rc = sfu->addresses && sfu->workers && sfu->wstates ? 0 : KM_ENOMEM;
	for (size_t i = 0; !rc && i < cfg->n_addresses; i++)
		rc = (sfu->addresses[i] = strdup(cfg->addresses[i])) ? 0 : KM_ENOMEM;
	if (!rc && (rc = km_srtp_init()) != 0) /* idempotent */
		km_errf(rc, err, errlen, "libsrtp2 did not initialise");
	if (!rc && (rc = km_dtls_cert_new(&sfu->cert)) == 0)
		rc = hex_fingerprint(km_dtls_cert_fingerprint(sfu->cert), sfu->fingerprint);
	for (unsigned w = 0; !rc && w < sfu->nworkers; w++) {
		char name[16];
		snprintf(name, sizeof name, "km-media-%u", w % 100);
		sfu_wstate_t *ws = sfu->wstates[w] = calloc(1, sizeof *ws);
		if (!ws || (rc = km_worker_new(name, &sfu->workers[w])) != 0) {
			rc = rc ? rc : KM_ENOMEM;
			break;
		}
		ws->worker = sfu->workers[w];
		ws->cert = sfu->cert;
		ws->addresses = (const char *const *)sfu->addresses;
		ws->n_addresses = cfg->n_addresses;
		ws->port_min = cfg->port_min;
		ws->port_max = cfg->port_max;
		ws->max_bitrate_bps = (uint64_t)(cfg->max_bitrate_kbps ? cfg->max_bitrate_kbps : 2500) * 1000;
		ws->echo_bitrate_bps = (uint64_t)(cfg->echo_kbps ? cfg->echo_kbps : 600) * 1000;
		ws->echo_us = (int64_t)(cfg->echo_seconds ? cfg->echo_seconds : 120) * 1000000;
		km_worker_set_event_sink(ws->worker, cfg->wake, cfg->wake_ud);
		km_worker_call(ws->worker, sfu_w_start, ws);
	}
	if (rc) {
		km_errf(rc, err, errlen, "media workers could not start");
		km_sfu_free(sfu);
		return rc;
	}
	*out = sfu;
	return 0;
}

void km_sfu_free(km_sfu_t *sfu)
{
	if (!sfu)
		return;
	for (unsigned w = 0; w < sfu->nworkers; w++) {
		if (sfu->workers && sfu->workers[w]) {
			km_worker_call(sfu->workers[w], sfu_w_stop, sfu->wstates[w]);
			km_worker_free(sfu->workers[w]);
		}
		if (sfu->wstates)
			free(sfu->wstates[w]);
	}
	while (sfu->rooms) {
		m_room_t *r = sfu->rooms;
		sfu->rooms = r->next;
		while (r->members) {
			m_member_t *m = r->members;
			r->members = m->next;
			free(m);
		}
		free(r);
	}
	for (size_t i = 0; i < sfu->nevents; i++)
		free(sfu->events[i].sdp);
	free(sfu->events);
	for (size_t i = 0; sfu->addresses && i < sfu->cfg.n_addresses; i++)
		free(sfu->addresses[i]);
	free(sfu->addresses);
	free(sfu->workers);
	free(sfu->wstates);
	km_dtls_cert_free(sfu->cert);
	free(sfu);
}

/* ice.c — one libnice agent per WebRTC connection: one stream, one UDP
 * component, full ICE with trickle, regular nomination and RFC 7675 consent
 * freshness. Why full and not lite, and the threading rule: media/ice.h. */
#include "media/ice.h"
#include "media/ice_int.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <agent.h>

#include "core/err.h"
#include "core/log.h"

#define COMPONENT KM_ICE_COMPONENT
#define LOCAL_UFRAG_LEN 8
#define LOCAL_PWD_LEN 24


const char *km_ice_state_name(km_ice_state_t s)
{
	switch (s) {
	case KM_ICE_NEW: return "new";
	case KM_ICE_GATHERING: return "gathering";
	case KM_ICE_CHECKING: return "checking";
	case KM_ICE_CONNECTED: return "connected";
	case KM_ICE_READY: return "ready";
	case KM_ICE_FAILED: return "failed";
	case KM_ICE_DISCONNECTED: return "disconnected";
	}
	return "unknown";
}

km_ice_state_t km_ice_state(const km_ice_t *ice)
{
	return ice ? ice->state : KM_ICE_FAILED;
}

void km_ice_stats(const km_ice_t *ice, km_ice_stats_t *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (ice)
		*out = ice->stats;
}

/* ---- releasing the agent ---- */

/* Forgets the selected pair. Datagrams queued for its socket go out
 * first, while the descriptor is still libnice's socket. */
static void drop_selected(km_ice_t *ice)
{
	km__ice_direct_leave(ice); /* it reads the socket */
	if (ice->sel_fd >= 0)
		km_sendq_flush(ice->cb.sendq);
	if (ice->sel_sock)
		g_object_unref(ice->sel_sock);
	ice->sel_sock = NULL;
	ice->sel_fd = -1;
}

/* Learns the selected pair from libnice: its local socket and the remote
 * address, when the pair is plain UDP without a relay (always so here:
 * kamer gathers host candidates only). Otherwise km_ice_send goes on
 * through nice_agent_send. */
static void refresh_selected(km_ice_t *ice)
{
	NiceCandidate *l = NULL, *r = NULL;
	GSocket *s;
	int fd;

	drop_selected(ice);
	if (!nice_agent_get_selected_pair(ice->agent, ice->stream, COMPONENT, &l, &r) || !l ||
	    !r || l->type == NICE_CANDIDATE_TYPE_RELAYED ||
	    l->transport != NICE_CANDIDATE_TRANSPORT_UDP)
		return;
	s = nice_agent_get_selected_socket(ice->agent, ice->stream, COMPONENT);
	if (!s)
		return;
	fd = g_socket_get_fd(s);
	memset(&ice->peer, 0, sizeof(ice->peer));
	nice_address_copy_to_sockaddr(&r->addr, &ice->peer.sa);
	if (fd < 0 || (ice->peer.sa.sa_family != AF_INET && ice->peer.sa.sa_family != AF_INET6)) {
		g_object_unref(s);
		return;
	}
	ice->peer_len = ice->peer.sa.sa_family == AF_INET ? sizeof(ice->peer.in)
							   : sizeof(ice->peer.in6);
	ice->sel_priority = l->priority;
	ice->sel_sock = s;
	ice->sel_fd = fd;
	if (ice->cb.rcvbuf > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &ice->cb.rcvbuf, sizeof(ice->cb.rcvbuf));
}

static void release(km_ice_t *ice)
{
	if (ice->agent)
		g_object_unref(ice->agent);
	g_main_context_unref(ice->ctx);
	free(ice);
}

static gboolean release_tick(gpointer p)
{
	return G_SOURCE_REMOVE; /* the destroy notify does the work */
}

static void release_notify(gpointer p)
{
	release(p);
}

/* After a callback into the caller: if it freed the endpoint, release it
 * on the next loop iteration, outside libnice's own call stack. */
void km__ice_leave_cb(km_ice_t *ice)
{
	GSource *src;

	if (--ice->in_cb > 0 || !ice->doomed)
		return;
	src = g_idle_source_new();
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, release_tick, ice, release_notify);
	g_source_attach(src, ice->ctx);
	g_source_unref(src);
}

void km_ice_free(km_ice_t *ice)
{
	if (!ice || ice->doomed)
		return;
	ice->doomed = 1;
	drop_selected(ice); /* and the direct path, without giving libnice the socket back */
	if (ice->agent) {
		g_signal_handlers_disconnect_by_data(ice->agent, ice);
		if (ice->stream)
			nice_agent_attach_recv(ice->agent, ice->stream, COMPONENT, ice->ctx, NULL,
					       NULL);
	}
	if (ice->in_cb == 0)
		release(ice);
}

/* ---- libnice signals ---- */

static km_ice_state_t map_state(guint s)
{
	switch (s) {
	case NICE_COMPONENT_STATE_GATHERING: return KM_ICE_GATHERING;
	case NICE_COMPONENT_STATE_CONNECTING: return KM_ICE_CHECKING;
	case NICE_COMPONENT_STATE_CONNECTED: return KM_ICE_CONNECTED;
	case NICE_COMPONENT_STATE_READY: return KM_ICE_READY;
	case NICE_COMPONENT_STATE_FAILED: return KM_ICE_FAILED;
	default: return KM_ICE_DISCONNECTED;
	}
}

void km__ice_report(km_ice_t *ice, km_ice_state_t s)
{
	if (s == ice->state)
		return;
	km_debug("ice", "state", "ice=%p from=%s to=%s", (void *)ice, km_ice_state_name(ice->state),
		 km_ice_state_name(s));
	ice->state = s;
	if (!ice->cb.on_state)
		return;
	ice->in_cb++;
	ice->cb.on_state(ice->cb.ud, s);
	km__ice_leave_cb(ice);
}

static void on_nice_recv(NiceAgent *agent, guint stream, guint component, guint len, gchar *buf,
			 gpointer p);

/* libnice's socket sources of the component go to a context that nobody
 * runs while the direct path reads the socket (media/ice_direct.c). */
static GMainContext *parking(void)
{
	static GMainContext *park;

	if (g_once_init_enter(&park))
		g_once_init_leave(&park, g_main_context_new());
	return park;
}

void km__ice_nice_receives(km_ice_t *ice, bool on)
{
	nice_agent_attach_recv(ice->agent, ice->stream, COMPONENT, on ? ice->ctx : parking(),
			       on ? on_nice_recv : NULL, on ? ice : NULL);
}

static void on_state_changed(NiceAgent *agent, guint stream, guint component, guint state,
			     gpointer p)
{
	km_ice_t *ice = p;
	km_ice_state_t s = map_state(state);

	if (stream != ice->stream || component != COMPONENT || s == ice->state)
		return;
	if ((s == KM_ICE_CONNECTED || s == KM_ICE_READY) && ice->sel_fd < 0)
		refresh_selected(ice);
	if (s != KM_ICE_CONNECTED && s != KM_ICE_READY)
		km__ice_direct_leave(ice);
	ice->in_cb++; /* the report may free ice */
	km__ice_report(ice, s);
	if (s == KM_ICE_READY && !ice->doomed)
		km__ice_direct_enter(ice);
	km__ice_leave_cb(ice);
}

static void on_new_candidate(NiceAgent *agent, NiceCandidate *c, gpointer p)
{
	km_ice_t *ice = p;
	gchar *sdp;

	if (c->stream_id != ice->stream || c->component_id != COMPONENT ||
	    c->transport != NICE_CANDIDATE_TRANSPORT_UDP ||
	    c->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE || !ice->cb.on_local_candidate)
		return;
	sdp = nice_agent_generate_local_candidate_sdp(agent, c);
	if (!sdp || strncmp(sdp, "a=candidate:", 12) != 0) {
		g_free(sdp);
		return;
	}
	ice->in_cb++;
	ice->cb.on_local_candidate(ice->cb.ud, sdp + 2);
	g_free(sdp);
	km__ice_leave_cb(ice);
}

static void on_selected_pair(NiceAgent *agent, guint stream, guint component, NiceCandidate *l,
			     NiceCandidate *r, gpointer p)
{
	km_ice_t *ice = p;

	if (stream == ice->stream && component == COMPONENT) {
		refresh_selected(ice);
		km__ice_direct_enter(ice); /* when READY: a new pair, read anew */
	}
}

static void on_gathering_done(NiceAgent *agent, guint stream, gpointer p)
{
	km_ice_t *ice = p;

	if (stream != ice->stream || !ice->cb.on_local_candidate)
		return;
	ice->in_cb++;
	ice->cb.on_local_candidate(ice->cb.ud, NULL);
	km__ice_leave_cb(ice);
}

/* GLib blocks a source with descriptors while it dispatches it: it takes
 * them out of the context's poll list and puts them back afterwards, and
 * each of the two steps walks that list (sorted, O(descriptors)) and writes
 * the context's wake-up eventfd, which also wakes the next poll() at once.
 * For libnice's socket sources that was two write() calls and an extra
 * loop iteration per wake-up of every socket. A source that may recurse is
 * not blocked; libnice reads its socket until EAGAIN in each dispatch and
 * nothing iterates a worker's context from inside a dispatch, so letting
 * the socket source "recurse" changes nothing else. Set once per source,
 * from inside its own dispatch (the only place its GSource is visible). */
static void unblock_current_source(void)
{
	GSource *src = g_main_current_source();

	if (src && !g_source_get_can_recurse(src))
		g_source_set_can_recurse(src, TRUE);
}

/* The packet path: libnice's buffer straight to the caller. */
static void on_nice_recv(NiceAgent *agent, guint stream, guint component, guint len, gchar *buf,
			 gpointer p)
{
	km_ice_t *ice = p;

	unblock_current_source();
	if (!ice->cb.on_recv || len == 0)
		return;
	ice->in_cb++;
	ice->cb.on_recv(ice->cb.ud, (const uint8_t *)buf, len);
	km__ice_leave_cb(ice);
}

/* ---- setting up ---- */

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/". 64 of them, so a random
 * byte's low 6 bits pick one without bias. */
static const char ice_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int random_ice_string(char *out, size_t n)
{
	uint8_t rnd[LOCAL_PWD_LEN];
	size_t i;

	if (n > sizeof(rnd) || getrandom(rnd, n, 0) != (ssize_t)n)
		return KM_ECRYPTO;
	for (i = 0; i < n; i++)
		out[i] = ice_chars[rnd[i] & 63];
	out[n] = '\0';
	return 0;
}

/* 1 when s is min..max ice-chars (RFC 8839). */
static int valid_ice_string(const char *s, size_t min, size_t max)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	return n >= min && n <= max && strspn(s, ice_chars) == n;
}

/* out (KM_ICE_CRED_MAX bytes) = given (already checked) or n random
 * ice-chars. Returns 0 or KM_ECRYPTO. */
static int set_local_string(char *out, const char *given, size_t n)
{
	if (!given)
		return random_ice_string(out, n);
	memcpy(out, given, strlen(given) + 1);
	return 0;
}

static int add_addresses(km_ice_t *ice, const km_ice_config_t *cfg, char *err, size_t errlen)
{
	size_t i;

	if (!cfg->addresses || cfg->n_addresses == 0 || cfg->n_addresses > KM_ICE_MAX_ADDRS)
		return km_errf(KM_EINVAL, err, errlen, "need 1 to %d local addresses",
			       KM_ICE_MAX_ADDRS);
	for (i = 0; i < cfg->n_addresses; i++) {
		NiceAddress a;

		nice_address_init(&a);
		if (!cfg->addresses[i] || !nice_address_set_from_string(&a, cfg->addresses[i]))
			return km_errf(KM_EINVAL, err, errlen,
				       "local address %zu is not a numeric IP address", i);
		if (!nice_agent_add_local_address(ice->agent, &a))
			return km_errf(KM_EIO, err, errlen, "libnice refused local address %zu", i);
	}
	return 0;
}

static int setup_stream(km_ice_t *ice, const km_ice_config_t *cfg, char *err, size_t errlen)
{
	ice->stream = nice_agent_add_stream(ice->agent, 1);
	if (ice->stream == 0)
		return km_errf(KM_EIO, err, errlen, "libnice could not add a stream");
	if (cfg->port_min)
		nice_agent_set_port_range(ice->agent, ice->stream, COMPONENT, cfg->port_min,
					  cfg->port_max);
	if (set_local_string(ice->ufrag, cfg->local_ufrag, LOCAL_UFRAG_LEN) < 0 ||
	    set_local_string(ice->pwd, cfg->local_pwd, LOCAL_PWD_LEN) < 0)
		return km_errf(KM_ECRYPTO, err, errlen, "getrandom failed");
	if (!nice_agent_set_local_credentials(ice->agent, ice->stream, ice->ufrag, ice->pwd))
		return km_errf(KM_EIO, err, errlen, "libnice refused the local credentials");
	g_signal_connect(ice->agent, "component-state-changed", G_CALLBACK(on_state_changed), ice);
	g_signal_connect(ice->agent, "new-candidate-full", G_CALLBACK(on_new_candidate), ice);
	g_signal_connect(ice->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done),
			 ice);
	g_signal_connect(ice->agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), ice);
	if (!nice_agent_attach_recv(ice->agent, ice->stream, COMPONENT, ice->ctx, on_nice_recv,
				    ice))
		return km_errf(KM_EIO, err, errlen, "libnice could not attach the receiver");
	return 0;
}

int km_ice_new(GMainContext *ctx, const km_ice_config_t *cfg, int controlling, km_ice_t **out,
	       char *err, size_t errlen)
{
	km_ice_t *ice;
	int rc;

	if (!ctx || !cfg || !out)
		return km_errf(KM_EINVAL, err, errlen, "missing argument");
	*out = NULL;
	if ((cfg->port_min == 0) != (cfg->port_max == 0) || cfg->port_min > cfg->port_max)
		return km_errf(KM_EINVAL, err, errlen, "bad UDP port range %u-%u",
			       (unsigned)cfg->port_min, (unsigned)cfg->port_max);
	if (cfg->local_ufrag && !valid_ice_string(cfg->local_ufrag, 4, 256))
		return km_errf(KM_EINVAL, err, errlen, "local ice-ufrag is not 4-256 ice-chars");
	if (cfg->local_pwd && !valid_ice_string(cfg->local_pwd, 22, 256))
		return km_errf(KM_EINVAL, err, errlen, "local ice-pwd is not 22-256 ice-chars");
	ice = calloc(1, sizeof(*ice));
	if (!ice)
		return km_errf(KM_ENOMEM, err, errlen, "out of memory");
	ice->ctx = g_main_context_ref(ctx);
	ice->cb = *cfg;
	ice->cb.addresses = NULL;
	ice->cb.n_addresses = 0;
	ice->cb.local_ufrag = NULL;
	ice->cb.local_pwd = NULL;
	ice->state = KM_ICE_NEW;
	ice->sel_fd = -1;
	ice->controlling = controlling != 0;
	if (getrandom(&ice->tie, sizeof(ice->tie), 0) != (ssize_t)sizeof(ice->tie)) {
		rc = km_errf(KM_ECRYPTO, err, errlen, "getrandom failed");
		goto fail;
	}
	ice->agent = nice_agent_new_full(ctx, NICE_COMPATIBILITY_RFC5245,
					 NICE_AGENT_OPTION_ICE_TRICKLE |
						 NICE_AGENT_OPTION_REGULAR_NOMINATION);
	if (!ice->agent) {
		rc = km_errf(KM_EIO, err, errlen, "libnice could not make an agent");
		goto fail;
	}
	g_object_set(ice->agent, "upnp", FALSE, "ice-tcp", FALSE, "ice-udp", TRUE,
		     "controlling-mode", controlling ? TRUE : FALSE, NULL);
	rc = add_addresses(ice, cfg, err, errlen);
	if (rc < 0)
		goto fail;
	rc = setup_stream(ice, cfg, err, errlen);
	if (rc < 0)
		goto fail;
	*out = ice;
	return 0;
fail:
	km_ice_free(ice);
	return rc;
}

int km_ice_gather(km_ice_t *ice, char *err, size_t errlen)
{
	if (!ice || ice->doomed)
		return km_errf(KM_EINVAL, err, errlen, "no endpoint");
	if (!nice_agent_gather_candidates(ice->agent, ice->stream))
		return km_errf(KM_EIO, err, errlen,
			       "gathering failed (no free port in the range, or an address "
			       "that is not local)");
	return 0;
}

int km_ice_local_credentials(km_ice_t *ice, char ufrag[KM_ICE_CRED_MAX],
			     char pwd[KM_ICE_CRED_MAX])
{
	if (!ice || !ufrag || !pwd)
		return KM_EINVAL;
	memcpy(ufrag, ice->ufrag, sizeof(ice->ufrag));
	memcpy(pwd, ice->pwd, sizeof(ice->pwd));
	return 0;
}

int km_ice_set_remote_credentials(km_ice_t *ice, const char *ufrag, const char *pwd, char *err,
				  size_t errlen)
{
	if (!ice || ice->doomed)
		return km_errf(KM_EINVAL, err, errlen, "no endpoint");
	if (!valid_ice_string(ufrag, 4, 256))
		return km_errf(KM_EINVAL, err, errlen, "ice-ufrag is not 4-256 ice-chars");
	if (!valid_ice_string(pwd, 22, 256))
		return km_errf(KM_EINVAL, err, errlen, "ice-pwd is not 22-256 ice-chars");
	if (!nice_agent_set_remote_credentials(ice->agent, ice->stream, ufrag, pwd))
		return km_errf(KM_EIO, err, errlen, "libnice refused the remote credentials");
	snprintf(ice->rufrag, sizeof(ice->rufrag), "%s", ufrag);
	snprintf(ice->rpwd, sizeof(ice->rpwd), "%s", pwd);
	return 0;
}

int km_ice_restart(km_ice_t *ice, const char *local_ufrag, const char *local_pwd, const char *remote_ufrag,
		   const char *remote_pwd, char *err, size_t errlen)
{
	if (!ice || ice->doomed)
		return km_errf(KM_EINVAL, err, errlen, "no endpoint");
	if ((local_ufrag && !valid_ice_string(local_ufrag, 4, LOCAL_UFRAG_LEN)) ||
	    (local_pwd && !valid_ice_string(local_pwd, 22, LOCAL_PWD_LEN)))
		return km_errf(KM_EINVAL, err, errlen, "bad local credentials");
	if (!valid_ice_string(remote_ufrag, 4, 256) || !valid_ice_string(remote_pwd, 22, 256))
		return km_errf(KM_EINVAL, err, errlen, "bad remote credentials");
	char ufrag[sizeof ice->ufrag], pwd[sizeof ice->pwd];
	if (set_local_string(ufrag, local_ufrag, LOCAL_UFRAG_LEN) < 0 ||
	    set_local_string(pwd, local_pwd, LOCAL_PWD_LEN) < 0)
		return km_errf(KM_ECRYPTO, err, errlen, "getrandom failed");
	drop_selected(ice);
	if (!nice_agent_restart_stream(ice->agent, ice->stream))
		return km_errf(KM_EIO, err, errlen, "libnice could not restart the stream");
	if (!nice_agent_set_local_credentials(ice->agent, ice->stream, ufrag, pwd))
		return km_errf(KM_EIO, err, errlen, "libnice refused the local credentials");
	memcpy(ice->ufrag, ufrag, sizeof ufrag);
	memcpy(ice->pwd, pwd, sizeof pwd);
	if (!nice_agent_set_remote_credentials(ice->agent, ice->stream, remote_ufrag, remote_pwd))
		return km_errf(KM_EIO, err, errlen, "libnice refused the remote credentials");
	snprintf(ice->rufrag, sizeof(ice->rufrag), "%s", remote_ufrag);
	snprintf(ice->rpwd, sizeof(ice->rpwd), "%s", remote_pwd);
	km_info("ice", "restart", "ice=%p", (void *)ice);
	/* The same local candidates, for the peer's new generation. */
	GSList *cands = nice_agent_get_local_candidates(ice->agent, ice->stream, COMPONENT);
	ice->in_cb++; /* a callback may free ice: not before this function is done with it */
	for (GSList *i = cands; i && !ice->doomed; i = i->next)
		on_new_candidate(ice->agent, i->data, ice);
	g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
	if (!ice->doomed)
		on_gathering_done(ice->agent, ice->stream, ice);
	km__ice_leave_cb(ice);
	return 0;
}

/* Copies the idx-th space-separated field of s into out (cap bytes).
 * Returns 1, or 0 when there is no such field or it does not fit. */
static int field(const char *s, int idx, char *out, size_t cap)
{
	size_t n;

	for (;;) {
		s += strspn(s, " ");
		if (*s == '\0')
			return 0;
		n = strcspn(s, " ");
		if (idx-- == 0)
			break;
		s += n;
	}
	if (n >= cap)
		return 0;
	memcpy(out, s, n);
	out[n] = '\0';
	return 1;
}

/* Sorts a well-formed line into usable (0), unusable here (KM_ICE_IGNORED)
 * or malformed (KM_EINVAL). line starts at "candidate:". */
static int classify_candidate(const char *line, char *err, size_t errlen)
{
	char comp[8], transport[16], addr[256], port[8];
	NiceAddress a;
	size_t alen;

	if (!field(line, 1, comp, sizeof(comp)) || !field(line, 2, transport, sizeof(transport)) ||
	    !field(line, 4, addr, sizeof(addr)) || !field(line, 5, port, sizeof(port)))
		return km_errf(KM_EINVAL, err, errlen, "candidate has too few fields");
	if (strcasecmp(transport, "udp") != 0)
		return KM_ICE_IGNORED;
	if (strcmp(comp, "1") != 0)
		return KM_ICE_IGNORED;
	nice_address_init(&a);
	if (!nice_address_set_from_string(&a, addr)) {
		alen = strlen(addr);
		if (alen > 6 && strcasecmp(addr + alen - 6, ".local") == 0)
			return KM_ICE_IGNORED; /* mDNS: cannot be resolved here */
		return km_errf(KM_EINVAL, err, errlen, "candidate address is not an IP address");
	}
	if (strspn(port, "0123456789") != strlen(port) || atoi(port) < 1 || atoi(port) > 65535)
		return km_errf(KM_EINVAL, err, errlen, "candidate port is not 1-65535");
	return 0;
}

int km_ice_add_remote_candidate(km_ice_t *ice, const char *candidate, char *err, size_t errlen)
{
	char line[KM_ICE_CANDIDATE_MAX + 3];
	NiceCandidate *c;
	GSList list = { 0 };
	int rc, n;

	if (!ice || ice->doomed || !candidate)
		return km_errf(KM_EINVAL, err, errlen, "missing argument");
	if (strncmp(candidate, "a=", 2) == 0)
		candidate += 2;
	if (strncmp(candidate, "candidate:", 10) != 0)
		return km_errf(KM_EINVAL, err, errlen, "not a candidate line");
	if (strlen(candidate) > KM_ICE_CANDIDATE_MAX)
		return km_errf(KM_ETOOBIG, err, errlen, "candidate line over %d characters",
			       KM_ICE_CANDIDATE_MAX);
	rc = classify_candidate(candidate, err, errlen);
	if (rc != 0)
		return rc;
	snprintf(line, sizeof(line), "a=%s", candidate);
	c = nice_agent_parse_remote_candidate_sdp(ice->agent, ice->stream, line);
	if (!c)
		return km_errf(KM_EINVAL, err, errlen, "malformed candidate");
	list.data = c;
	n = nice_agent_set_remote_candidates(ice->agent, ice->stream, COMPONENT, &list);
	nice_candidate_free(c);
	if (n < 0)
		return km_errf(KM_EIO, err, errlen, "libnice refused the candidate");
	return 0;
}

int km_ice_remote_candidates_done(km_ice_t *ice)
{
	if (!ice || ice->doomed)
		return KM_EINVAL;
	return nice_agent_peer_candidate_gathering_done(ice->agent, ice->stream) ? 0 : KM_EIO;
}

int km_ice_send(km_ice_t *ice, const uint8_t *p, size_t len)
{
	gint n;

	if (!ice || !p || len == 0 || len > 65507)
		return KM_EINVAL;
	if (ice->state != KM_ICE_CONNECTED && ice->state != KM_ICE_READY)
		return KM_EBUSY;
	if (ice->sel_fd >= 0) {
		if (ice->cb.sendq)
			return km_sendq_push(ice->cb.sendq, ice->sel_fd, &ice->peer.sa,
					     ice->peer_len, p, len) == 0 ? 0 : KM_EIO;
		return sendto(ice->sel_fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL, &ice->peer.sa,
			      ice->peer_len) == (ssize_t)len ? 0 : KM_EIO;
	}
	n = nice_agent_send(ice->agent, ice->stream, COMPONENT, (guint)len, (const gchar *)p);
	return n == (gint)len ? 0 : KM_EIO;
}

/* floor.c — kamer-floor, the benchmark's ideal forwarder: what no SFU on
 * this machine can beat. Participant i of N (rooms of P) has a publish
 * socket (HOST:PORT+2i) and a subscribe socket (HOST:PORT+2i+1, connected
 * to CLIENT:CPORT+2i+1). Per readable publish socket: receive a batch
 * (recvmmsg), srtp_unprotect each packet once, then for every other member
 * of the room srtp_protect a copy and send the batch (sendmmsg) — the same
 * libsrtp2 through media/srtp.h, the same AES-256-GCM, fixed keys, no ICE,
 * no DTLS, no RTCP beyond reading and dropping it. Stops on SIGTERM/SIGINT.
 * Threads: one. */
#include "media/srtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define MAXPKT 1500
#define SLACK 32
#define MAX_PER_ROOM 8

typedef struct {
	int pub_fd, sub_fd;
	km_srtp_t *in, *out;
} member_t;

static volatile sig_atomic_t stop;
static member_t *members;
static int nmembers, per_room;
static uint64_t n_in, n_out, n_bad, n_rtcp;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int udp(const char *ip, int port, const char *peer, int peer_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), big = 4 << 20;
	if (fd < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big) || bind(fd, (struct sockaddr *)&a, sizeof a))
		return -1;
	if (peer) {
		struct sockaddr_in b = { .sin_family = AF_INET, .sin_port = htons((uint16_t)peer_port) };
		if (inet_pton(AF_INET, peer, &b.sin_addr) != 1 || connect(fd, (struct sockaddr *)&b, sizeof b))
			return -1;
	}
	return fd;
}

/* The same fixed keys as the load client (tests/bench/load_media.c). */
static int sessions(member_t *m)
{
	km_srtp_keys_t k = { .profile = KM_SRTP_AES256GCM, .key_len = 32, .salt_len = 12 };
	for (int i = 0; i < 32; i++)
		k.client_key[i] = k.server_key[i] = (uint8_t)(0x40 + i);
	for (int i = 0; i < 12; i++)
		k.client_salt[i] = k.server_salt[i] = (uint8_t)(0x10 + i);
	k.local_is_client = 0;
	return km_srtp_session_new(&k, 1, &m->in) || km_srtp_session_new(&k, 0, &m->out) ? -1 : 0;
}

static uint8_t inbuf[BATCH][MAXPKT + SLACK];
static uint8_t outbuf[MAX_PER_ROOM][BATCH][MAXPKT + SLACK];

/* One batch from publisher i: unprotect once, protect and send per subscriber. */
static int forward(int i)
{
	struct mmsghdr m[BATCH];
	struct iovec v[BATCH];
	for (int k = 0; k < BATCH; k++) {
		v[k] = (struct iovec){ .iov_base = inbuf[k], .iov_len = MAXPKT };
		m[k].msg_hdr = (struct msghdr){ .msg_iov = &v[k], .msg_iovlen = 1 };
	}
	int n = recvmmsg(members[i].pub_fd, m, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	size_t len[BATCH];
	int ok[BATCH], nok = 0;
	for (int k = 0; k < n; k++) {
		len[k] = m[k].msg_len;
		ok[k] = 0;
		bool rtcp = len[k] >= 2 && inbuf[k][1] >= 192 && inbuf[k][1] <= 223;
		int rc = rtcp ? km_srtp_unprotect_rtcp(members[i].in, inbuf[k], &len[k])
			      : km_srtp_unprotect(members[i].in, inbuf[k], &len[k]);
		if (rc)
			n_bad++;
		else if (rtcp)
			n_rtcp++;
		else
			ok[k] = 1, nok++;
	}
	n_in += (uint64_t)nok;
	int room = i / per_room, s = 0;
	for (int j = room * per_room; j < (room + 1) * per_room && j < nmembers; j++) {
		if (j == i)
			continue;
		struct mmsghdr om[BATCH];
		struct iovec ov[BATCH];
		int c = 0;
		for (int k = 0; k < n; k++) {
			if (!ok[k])
				continue;
			uint8_t *p = outbuf[s][k];
			size_t l = len[k];
			memcpy(p, inbuf[k], l);
			if (km_srtp_protect(members[j].out, p, &l, MAXPKT + SLACK) != 0)
				continue;
			ov[c] = (struct iovec){ .iov_base = p, .iov_len = l };
			om[c].msg_hdr = (struct msghdr){ .msg_iov = &ov[c], .msg_iovlen = 1 };
			c++;
		}
		int sent = c ? sendmmsg(members[j].sub_fd, om, (unsigned)c, MSG_DONTWAIT) : 0;
		if (sent > 0)
			n_out += (uint64_t)sent;
		s++;
	}
	return n;
}

static void drain(int fd)
{
	uint8_t b[MAXPKT];
	for (int k = 0; k < 64 && recv(fd, b, sizeof b, MSG_DONTWAIT) > 0; k++)
		n_rtcp++;
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.2", *client = "127.0.0.3";
	int port = 0, cport = 0, opt;
	static const struct option lo[] = {
		{ "host", 1, 0, 'h' }, { "port", 1, 0, 'p' }, { "client", 1, 0, 'c' }, { "client-port", 1, 0, 'C' },
		{ "participants", 1, 0, 'n' }, { "per-room", 1, 0, 'P' }, { 0, 0, 0, 0 },
	};
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': client = optarg; break;
		case 'C': cport = atoi(optarg); break;
		case 'n': nmembers = atoi(optarg); break;
		case 'P': per_room = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (port <= 0 || cport <= 0 || nmembers < 2 || per_room < 2 || per_room > MAX_PER_ROOM ||
	    port + 2 * nmembers > 65535 || cport + 2 * nmembers > 65535)
		goto usage;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	members = calloc((size_t)nmembers, sizeof *members);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!members || ep < 0 || km_srtp_init() != 0)
		return perror("kamer-floor: setup"), 1;
	for (int i = 0; i < nmembers; i++) {
		member_t *m = &members[i];
		m->pub_fd = udp(host, port + 2 * i, NULL, 0);
		m->sub_fd = udp(host, port + 2 * i + 1, client, cport + 2 * i + 1);
		if (m->pub_fd < 0 || m->sub_fd < 0 || sessions(m))
			return fprintf(stderr, "kamer-floor: member %d: %s\n", i, strerror(errno)), 1;
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		struct epoll_event f = { .events = EPOLLIN, .data.u32 = (uint32_t)i | 0x80000000u };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, m->pub_fd, &e) || epoll_ctl(ep, EPOLL_CTL_ADD, m->sub_fd, &f))
			return perror("kamer-floor: epoll"), 1;
	}
	fprintf(stderr, "kamer-floor: %d participants in rooms of %d on %s:%d\n", nmembers, per_room, host, port);
	while (!stop) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, 100);
		for (int k = 0; k < n; k++) {
			uint32_t u = ev[k].data.u32;
			if (u & 0x80000000u)
				drain(members[u & 0x7fffffffu].sub_fd);
			else
				for (int r = 0; r < 16 && forward((int)u) == BATCH; r++)
					;
		}
	}
	fprintf(stderr, "kamer-floor: in %llu, out %llu, rtcp %llu, bad %llu\n", (unsigned long long)n_in,
		(unsigned long long)n_out, (unsigned long long)n_rtcp, (unsigned long long)n_bad);
	for (int i = 0; i < nmembers; i++) {
		close(members[i].pub_fd);
		close(members[i].sub_fd);
		km_srtp_free(members[i].in);
		km_srtp_free(members[i].out);
	}
	free(members);
	close(ep);
	return 0;
usage:
	fputs("Usage: kamer-floor --port N --client-port N --participants N --per-room P"
	      " [--host ADDR] [--client ADDR]\n", stderr);
	return 2;
}

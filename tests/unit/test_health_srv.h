/*  Copyright (C) 2026 mod-tgcluster authors

    This program is free software: you can redistribute it and/or modify
    it under the terms of the GNU General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.

    This program is distributed in the hope that it will be useful,
    but WITHOUT ANY WARRANTY; without even the implied warranty of
    MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
    GNU General Public License for more details.

    You should have received a copy of the GNU General Public License
    along with this program.  If not, see <https://www.gnu.org/licenses/>.
 */

/*!
 * \file
 *
 * \brief Loopback test listeners for test_health: each one a listening socket
 *        served by its own thread with a scripted behaviour.
 *
 * Only loopback addresses are ever bound (the helpers refuse anything else).
 */

#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*! \brief Most connections a listener holds open at once. */
#define SRV_CONNS_MAX	64

/*! \brief Behaviour of a test listener. */
typedef struct {
	bool accept;          /*!< Accept connections (else leave them queued). */
	bool close_at_once;   /*!< Close right after accepting (and sending). */
	const char *banner;   /*!< Bytes sent after accepting (NULL: none). */
	size_t banner_len;    /*!< Their number (0: strlen(banner)). */
	size_t split;         /*!< Send the banner in two parts split here (0: one). */
	const char *expect;   /*!< RFB: the 12 bytes the client must answer
	                       *   (NULL: any 12 bytes). */
	const char *reply;    /*!< RFB: sent once the client's 12 bytes are in
	                       *   (NULL: nothing, the connection stays open). */
	size_t reply_len;     /*!< Bytes of \a reply. */
	bool close_on_reply;  /*!< Close once \a reply is sent (or, without a
	                       *   reply, once the client's version is in). */
} srv_mode_t;

/*! \brief Accept and close: a plain TCP service. */
static const srv_mode_t SRV_TCP = { .accept = true, .close_at_once = true };
/*! \brief An RFB 3.8 server offering VncAuth (what Xvnc does). */
static const srv_mode_t SRV_RFB = { .accept = true, .banner = "RFB 003.008\n",
                                    .expect = "RFB 003.008\n",
                                    .reply = "\x01\x02", .reply_len = 2 };
/*! \brief An RFB server that sends its banner in two segments. */
static const srv_mode_t SRV_RFB_SPLIT = { .accept = true,
                                          .banner = "RFB 003.008\n", .split = 5,
                                          .expect = "RFB 003.008\n",
                                          .reply = "\x02\x01\x02",
                                          .reply_len = 3 };
/*! \brief A newer server (Apple's 3.889) sending its types with the banner,
 *         before the client's version. */
static const srv_mode_t SRV_RFB_LONG = { .accept = true,
                                         .banner = "RFB 003.889\n\x01\x01" };
/*! \brief An RFB 3.3 server choosing VncAuth: the client must answer 3.3. */
static const srv_mode_t SRV_RFB_33 = { .accept = true, .banner = "RFB 003.003\n",
                                       .expect = "RFB 003.003\n",
                                       .reply = "\0\0\0\x02", .reply_len = 4 };
/*! \brief An RFB 3.7 server: the client must answer 3.7. */
static const srv_mode_t SRV_RFB_37 = { .accept = true, .banner = "RFB 003.007\n",
                                       .expect = "RFB 003.007\n",
                                       .reply = "\x01\x01", .reply_len = 2 };
/*! \brief A blacklisting server as Xvnc is: 3.3, security type 0 and the
 *         reason, all at once without waiting, then close. */
static const srv_mode_t SRV_RFB_BLACKLIST = { .accept = true, .close_at_once = true,
	.banner = "RFB 003.003\n\0\0\0\0\0\0\0\x1aToo many security failures",
	.banner_len = 12 + 4 + 4 + 26 };
/*! \brief A 3.8 server offering no type, with a reason. */
static const srv_mode_t SRV_RFB_NOTYPES = { .accept = true,
	.banner = "RFB 003.008\n", .expect = "RFB 003.008\n",
	.reply = "\0\0\0\0\x0d" "Busy\n\x1b[31mnow", .reply_len = 1 + 4 + 13,
	.close_on_reply = true };
/*! \brief A 3.8 server that closes after the client's version. */
static const srv_mode_t SRV_RFB_HALF = { .accept = true,
	.banner = "RFB 003.008\n", .close_on_reply = true };
/*! \brief A 3.8 server whose type list holds only "Invalid" (0). */
static const srv_mode_t SRV_RFB_INVALID = { .accept = true,
	.banner = "RFB 003.008\n", .reply = "\x02\0\0", .reply_len = 3 };
/*! \brief A banner, then silence after the client's version. */
static const srv_mode_t SRV_RFB_MUTE = { .accept = true, .banner = "RFB 003.008\n" };
/*! \brief Something else on the port (wrong banner). */
static const srv_mode_t SRV_SSH = { .accept = true,
                                    .banner = "SSH-2.0-OpenSSH_9.2\r\n" };
/*! \brief Almost RFB: a letter where a digit belongs. */
static const srv_mode_t SRV_RFB_LETTER = { .accept = true,
                                           .banner = "RFB 003.00x\n" };
/*! \brief A truncated banner, then silence. */
static const srv_mode_t SRV_RFB_SHORT = { .accept = true, .banner = "RFB 003" };
/*! \brief Accepts and never says anything (hung service). */
static const srv_mode_t SRV_HUNG = { .accept = true };
/*! \brief Accepts and closes without a word. */
static const srv_mode_t SRV_CLOSE = { .accept = true, .close_at_once = true };
/*! \brief Listens but never accepts (kernel completes the handshake). */
static const srv_mode_t SRV_NOACCEPT = { .accept = false };

/*! \brief A test listener. */
typedef struct {
	srv_mode_t mode;          /*!< Behaviour (read-only while running). */
	char ip[INET6_ADDRSTRLEN]; /*!< Bound address text. */
	uint16_t port;            /*!< Bound port. */
	int family;               /*!< AF_INET or AF_INET6. */
	int lfd;                  /*!< Listening socket (server thread once started). */
	int wake[2];              /*!< Stop pipe: test thread writes, server reads. */
	pthread_t thread;         /*!< Server thread. */
	bool running;             /*!< Thread started (test thread only). */
	_Atomic unsigned accepted; /*!< Connections accepted (writer: server
	                            *   thread; reader: test thread). */
} srv_t;

/*! \brief Monotonic time in ms. */
static inline uint64_t srv_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*! \brief Tells whether a textual address is a loopback address. */
static inline bool srv_is_loopback(const char *ip)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		return (ntohl(a4.s_addr) >> 24) == 127;
	}
	return inet_pton(AF_INET6, ip, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*! \brief Builds a loopback socket address; false if \a ip is not loopback. */
static inline bool srv_sockaddr(const char *ip, uint16_t port,
                                struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (!srv_is_loopback(ip)) {
		return false;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return true;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	*len = sizeof(*sin6);
	return inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1;
}

/*! \brief Writes all of \a len bytes (best effort, blocking socket). */
static inline void srv_send(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t r = send(fd, buf, len, MSG_NOSIGNAL);
		if (r <= 0) {
			return;
		}
		buf += r;
		len -= (size_t)r;
	}
}

/*! \brief Server thread: accepts and plays the scripted behaviour. */
static inline void *srv_main(void *arg)
{
	srv_t *s = arg;
	int conns[SRV_CONNS_MAX];
	size_t got[SRV_CONNS_MAX];             /* client bytes received */
	char rx[SRV_CONNS_MAX][12];            /* the first 12 of them */
	int nconns = 0;

	for (;;) {
		struct pollfd pfd[2 + SRV_CONNS_MAX];
		int n = 0;
		pfd[n++] = (struct pollfd){ .fd = s->wake[0], .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = s->lfd,
		                            .events = s->mode.accept ? POLLIN : 0 };
		for (int i = 0; i < nconns; i++) {
			pfd[n++] = (struct pollfd){ .fd = conns[i], .events = POLLIN };
		}
		if (poll(pfd, (nfds_t)n, 1000) < 0) {
			if (errno == EINTR) {
				continue;
			}
			break;
		}
		if (pfd[0].revents != 0) {
			break;
		}
		/* Peers that closed: close our side too. RFB: answer the
		 * client's version. */
		for (int i = nconns - 1; i >= 0; i--) {
			if (pfd[2 + i].revents == 0) {
				continue;
			}
			char buf[64];
			ssize_t r = recv(conns[i], buf, sizeof(buf), MSG_DONTWAIT);
			bool drop = (r == 0 || (r < 0 && errno != EAGAIN &&
			                                 errno != EINTR));
			for (ssize_t k = 0; k < r; k++) {
				if (got[i] < 12) {
					rx[i][got[i]] = buf[k];
				}
				if (++got[i] != 12) {
					continue;
				}
				if (s->mode.expect != NULL &&
				    memcmp(rx[i], s->mode.expect, 12) != 0) {
					drop = true; /* wrong version */
					break;
				}
				if (s->mode.reply != NULL) {
					srv_send(conns[i], s->mode.reply,
					         s->mode.reply_len);
				}
				drop = drop || s->mode.close_on_reply;
			}
			if (drop) {
				close(conns[i]);
				nconns--;
				conns[i] = conns[nconns];
				got[i] = got[nconns];
				memcpy(rx[i], rx[nconns], 12);
			}
		}
		if (!(pfd[1].revents & POLLIN)) {
			continue;
		}
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			continue; /* EAGAIN, EMFILE (tests starve fds)... */
		}
		atomic_fetch_add(&s->accepted, 1);
		if (s->mode.banner != NULL) {
			size_t len = (s->mode.banner_len > 0) ? s->mode.banner_len :
			             strlen(s->mode.banner);
			size_t split = (s->mode.split < len) ? s->mode.split : 0;
			if (split > 0) {
				srv_send(fd, s->mode.banner, split);
				usleep(5000);
			}
			srv_send(fd, s->mode.banner + split, len - split);
		}
		if (s->mode.close_at_once || nconns == SRV_CONNS_MAX) {
			close(fd);
		} else {
			got[nconns] = 0;
			conns[nconns++] = fd;
		}
	}

	for (int i = 0; i < nconns; i++) {
		close(conns[i]);
	}
	return NULL;
}

/*!
 * \brief Starts a listener on loopback \a ip and \a port (0: ephemeral).
 *
 * \return 0 on success, -1 on failure (not loopback, bind failed...).
 */
static inline int srv_start(srv_t *s, const char *ip, uint16_t port,
                            srv_mode_t mode)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(s, 0, sizeof(*s));
	s->lfd = -1;
	if (!srv_sockaddr(ip, port, &ss, &len)) {
		return -1;
	}
	s->mode = mode;
	s->family = ss.ss_family;
	snprintf(s->ip, sizeof(s->ip), "%s", ip);

	s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		return -1;
	}
	int one = 1;
	(void)setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(s->lfd, 128) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&ss, &len) != 0) {
		close(s->lfd);
		s->lfd = -1;
		return -1;
	}
	s->port = ntohs(ss.ss_family == AF_INET ?
	                ((struct sockaddr_in *)&ss)->sin_port :
	                ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (pipe2(s->wake, O_CLOEXEC) != 0) {
		close(s->lfd);
		s->lfd = -1;
		return -1;
	}
	if (pthread_create(&s->thread, NULL, srv_main, s) != 0) {
		close(s->wake[0]);
		close(s->wake[1]);
		close(s->lfd);
		s->lfd = -1;
		return -1;
	}
	s->running = true;
	return 0;
}

/*! \brief Stops a listener: its port refuses connections afterwards. */
static inline void srv_stop(srv_t *s)
{
	if (!s->running) {
		return;
	}
	char c = 'x';
	ssize_t r = write(s->wake[1], &c, 1);
	(void)r;
	pthread_join(s->thread, NULL);
	close(s->wake[0]);
	close(s->wake[1]);
	close(s->lfd);
	s->lfd = -1;
	s->running = false;
}

/*!
 * \brief Finds a loopback port that nothing listens on (bind, then close).
 *
 * \return The port, 0 on failure.
 */
static inline uint16_t srv_closed_port(const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (!srv_sockaddr(ip, 0, &ss, &len)) {
		return 0;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return 0;
	}
	uint16_t port = 0;
	if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		port = ntohs(ss.ss_family == AF_INET ?
		             ((struct sockaddr_in *)&ss)->sin_port :
		             ((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	close(fd);
	return port;
}

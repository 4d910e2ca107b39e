// SPDX-License-Identifier: MIT
/*
 * Sim event channels. Each bound port owns a FIFO <simdir>/evtchn/<dom>-<port>;
 * notify writes one byte into the peer port's FIFO. A handle's fd is an epoll
 * fd over its ports' FIFOs, registered EPOLLONESHOT: once a port is reported
 * it stays masked until unmask re-arms it, and an event that arrives while
 * masked waits in the FIFO and fires on unmask (libxenevtchn semantics).
 * Port tables live in the domain files, changed under flock().
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim_internal.h"

/* "/proc/<pid>/stat", NUL included. */
#define PROC_STAT_PATH_MAX 64
/* What owner_alive reads of it: pid, (comm, at most 16 bytes) and the state letter come first. */
#define PROC_STAT_HEAD_MAX 256
/* Bytes read per call while coalescing a port's queued notifications. */
#define FIFO_DRAIN_CHUNK 256

struct sim_local_port {
	int fifo_fd;            /* -1: not bound through this handle */
	/*
	 * The peer port's FIFO, open for writing, kept between notifies (an
	 * open of its path per event cost more than the write), for the peer
	 * domain and port it was opened for. A peer that unbinds or dies
	 * closes the FIFO's only reader, so the next write fails with EPIPE:
	 * then it is opened again by path, once, which finds a rebound port's
	 * new FIFO. -1: none open.
	 */
	int peer_fd;
	uint32_t peer_domid, peer_port;
};

struct sim_evtchn {
	struct sim_platform *sp;
	struct sim_domain self;
	int epfd;
	pthread_mutex_t lock;
	struct sim_local_port ports[SIM_PORTS];
};

int sim_evtchn_open(struct vha_platform *p, void **priv)
{
	struct sim_evtchn *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return -ENOMEM;
	e->sp = p->priv;
	rc = sim_domain_attach(e->sp->simdir, e->sp->domid, &e->self);
	if (rc < 0)
		goto fail;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0) {
		rc = -errno;
		sim_domain_detach(&e->self);
		goto fail;
	}
	for (uint32_t i = 0; i < SIM_PORTS; i++)
		e->ports[i].fifo_fd = e->ports[i].peer_fd = -1;
	pthread_mutex_init(&e->lock, NULL);
	*priv = e;
	return 0;
fail:
	free(e);
	return rc;
}

static void peer_fd_drop(struct sim_local_port *lp)
{
	if (lp->peer_fd >= 0)
		close(lp->peer_fd);
	lp->peer_fd = -1;
}

void sim_evtchn_close(void *priv)
{
	struct sim_evtchn *e = priv;

	if (!e)
		return;
	for (uint32_t port = 1; port < SIM_PORTS; port++) {
		if (e->ports[port].fifo_fd >= 0)
			sim_evtchn_unbind(e, port);
		peer_fd_drop(&e->ports[port]);
	}
	close(e->epfd);
	sim_domain_detach(&e->self);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int sim_evtchn_fd(void *priv)
{
	return ((struct sim_evtchn *)priv)->epfd;
}

/*
 * Whether the process that bound a port still holds it. A zombie does not:
 * the kernel closed its files (and so its event channels) when it exited.
 */
static bool owner_alive(uint32_t pid)
{
	char path[PROC_STAT_PATH_MAX], buf[PROC_STAT_HEAD_MAX], *paren;
	ssize_t n;
	int fd;

	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	paren = strrchr(buf, ')');
	return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

/* Find a free port in our table. Caller holds our port lock. */
static int alloc_port(struct sim_domain_hdr *h)
{
	for (uint32_t port = 1; port < SIM_PORTS; port++)
		if (h->ports[port].state == SIM_PORT_FREE)
			return (int)port;
	return -ENOSPC;
}

/* Create and watch the FIFO of a newly allocated local port. */
static int attach_fifo(struct sim_evtchn *e, uint32_t port)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u32 = port };
	char path[SIM_PATH_MAX];
	int fd, rc;

	rc = sim_fifo_path(path, sizeof(path), e->sp->simdir, e->sp->domid, port);
	if (rc < 0)
		return rc;
	unlink(path);
	if (mkfifo(path, 0600) != 0)
		return -errno;
	/* O_RDWR: never EOF when no writer has it open, never ENXIO for writers. */
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		unlink(path);
		return rc;
	}
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		rc = -errno;
		close(fd);
		unlink(path);
		return rc;
	}
	e->ports[port].fifo_fd = fd;
	return 0;
}

int sim_evtchn_bind_unbound(void *priv, vha_domid_t remote)
{
	struct sim_evtchn *e = priv;
	struct sim_domain_hdr *h = e->self.hdr;
	int port, rc;

	pthread_mutex_lock(&e->lock);
	sim_ports_lock(&e->self, NULL);
	port = alloc_port(h);
	if (port < 0) {
		rc = port;
		goto out;
	}
	rc = attach_fifo(e, (uint32_t)port);
	if (rc < 0)
		goto out;
	h->ports[port].remote_domid = remote;
	h->ports[port].remote_port = 0;
	h->ports[port].owner_pid = (uint32_t)getpid();
	h->ports[port].state = SIM_PORT_UNBOUND;
	rc = port;
out:
	sim_ports_unlock(&e->self, NULL);
	pthread_mutex_unlock(&e->lock);
	return rc;
}

int sim_evtchn_bind_interdomain(void *priv, vha_domid_t remote, vha_evtchn_port_t remote_port)
{
	struct sim_evtchn *e = priv;
	struct sim_domain peer = { .fd = -1 }, *pd = &e->self;
	struct sim_port *rp;
	int port, rc;

	if (remote_port == 0 || remote_port >= SIM_PORTS)
		return -EINVAL;
	if (remote != e->sp->domid) {
		rc = sim_domain_attach(e->sp->simdir, remote, &peer);
		if (rc < 0)
			return rc;
		pd = &peer;
	}
	pthread_mutex_lock(&e->lock);
	sim_ports_lock(&e->self, pd);
	if (!sim_domain_alive(pd)) {
		rc = -ESRCH;
		goto out;
	}
	rp = &pd->hdr->ports[remote_port];
	/*
	 * Bound to a port of ours whose process died without unbinding: on Xen
	 * the kernel closed that port when the process exited, and the remote
	 * end fell back to unbound. Do that now (a restarted backend rebinds).
	 */
	if (rp->state == SIM_PORT_INTERDOMAIN && rp->remote_domid == e->sp->domid && rp->remote_port < SIM_PORTS) {
		struct sim_port *ours = &e->self.hdr->ports[rp->remote_port];

		if (ours->state == SIM_PORT_INTERDOMAIN && ours->owner_pid && !owner_alive(ours->owner_pid) &&
		    e->ports[rp->remote_port].fifo_fd < 0) {
			ours->state = SIM_PORT_FREE;
			rp->state = SIM_PORT_UNBOUND;
		}
	}
	/* As Xen: the remote port must be unbound and reserved for us. */
	if (rp->state != SIM_PORT_UNBOUND || rp->remote_domid != e->sp->domid) {
		rc = -EINVAL;
		goto out;
	}
	port = alloc_port(e->self.hdr);
	if (port < 0) {
		rc = port;
		goto out;
	}
	rc = attach_fifo(e, (uint32_t)port);
	if (rc < 0)
		goto out;
	e->self.hdr->ports[port].remote_domid = remote;
	e->self.hdr->ports[port].remote_port = remote_port;
	e->self.hdr->ports[port].owner_pid = (uint32_t)getpid();
	e->self.hdr->ports[port].state = SIM_PORT_INTERDOMAIN;
	rp->remote_port = (uint32_t)port;
	rp->state = SIM_PORT_INTERDOMAIN;
	rc = port;
out:
	sim_ports_unlock(&e->self, pd);
	pthread_mutex_unlock(&e->lock);
	if (pd == &peer)
		sim_domain_detach(&peer);
	return rc;
}

int sim_evtchn_unbind(void *priv, vha_evtchn_port_t port)
{
	struct sim_evtchn *e = priv;
	struct sim_port copy;
	struct sim_domain peer = { .fd = -1 }, *pd = NULL;
	char path[SIM_PATH_MAX];

	if (port == 0 || port >= SIM_PORTS)
		return -EINVAL;
	pthread_mutex_lock(&e->lock);
	if (e->ports[port].fifo_fd < 0) {
		pthread_mutex_unlock(&e->lock);
		return -EINVAL;
	}
	copy = e->self.hdr->ports[port];
	if (copy.state == SIM_PORT_INTERDOMAIN) {
		if (copy.remote_domid == e->sp->domid)
			pd = &e->self;
		else if (sim_domain_attach(e->sp->simdir, copy.remote_domid, &peer) == 0)
			pd = &peer;
	}
	sim_ports_lock(&e->self, pd);
	if (pd && e->self.hdr->ports[port].state == SIM_PORT_INTERDOMAIN) {
		struct sim_port *rp = &pd->hdr->ports[copy.remote_port % SIM_PORTS];

		/* The far end stays allocated but falls back to unbound, as on Xen. */
		if (rp->state == SIM_PORT_INTERDOMAIN && rp->remote_domid == e->sp->domid && rp->remote_port == port)
			rp->state = SIM_PORT_UNBOUND;
	}
	e->self.hdr->ports[port].state = SIM_PORT_FREE;
	sim_ports_unlock(&e->self, pd);
	if (pd == &peer)
		sim_domain_detach(&peer);

	epoll_ctl(e->epfd, EPOLL_CTL_DEL, e->ports[port].fifo_fd, NULL);
	close(e->ports[port].fifo_fd);
	e->ports[port].fifo_fd = -1;
	peer_fd_drop(&e->ports[port]);
	if (sim_fifo_path(path, sizeof(path), e->sp->simdir, e->sp->domid, port) == 0)
		unlink(path);
	pthread_mutex_unlock(&e->lock);
	return 0;
}

/*
 * One byte into a FIFO whose reader may die at any moment (a peer process
 * SIGKILLed between our open and our write). A real event channel never
 * signals the sender; a FIFO raises SIGPIPE, whose default kills the
 * caller, a library's caller at that. So SIGPIPE is blocked around the
 * write and one it raised is taken back (unless one was already pending,
 * which stays the caller's). 0 or -errno (-EPIPE: the reader is gone).
 */
static int fifo_write_byte(int fd, char byte)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	int rc;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE) == 1;
	rc = write(fd, &byte, 1) < 0 ? -errno : 0;
	if (rc == -EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int sim_evtchn_notify(void *priv, vha_evtchn_port_t port)
{
	struct sim_evtchn *e = priv;
	struct sim_local_port *lp;
	struct sim_port p;
	char path[SIM_PATH_MAX];
	char byte = 1;
	int rc = 0;

	if (port == 0 || port >= SIM_PORTS)
		return -EINVAL;
	/*
	 * One snapshot of our own port entry (it changes only under the port
	 * lock; a racing unbind at worst sends one event to a closed port).
	 */
	p.state = __atomic_load_n(&e->self.hdr->ports[port].state, __ATOMIC_ACQUIRE);
	p.remote_domid = __atomic_load_n(&e->self.hdr->ports[port].remote_domid, __ATOMIC_RELAXED);
	p.remote_port = __atomic_load_n(&e->self.hdr->ports[port].remote_port, __ATOMIC_RELAXED);
	if (p.state == SIM_PORT_FREE)
		return -EINVAL;
	if (p.state != SIM_PORT_INTERDOMAIN)
		return 0;       /* unbound: Xen drops the event silently */
	pthread_mutex_lock(&e->lock);
	lp = &e->ports[port];
	if (lp->peer_fd >= 0 && (lp->peer_domid != p.remote_domid || lp->peer_port != p.remote_port))
		peer_fd_drop(lp);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (lp->peer_fd < 0) {
			rc = sim_fifo_path(path, sizeof(path), e->sp->simdir, p.remote_domid, p.remote_port);
			if (rc < 0)
				break;
			lp->peer_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
			if (lp->peer_fd < 0)
				break;  /* the peer went away: the event is lost, as with a dead domain */
			lp->peer_domid = p.remote_domid;
			lp->peer_port = p.remote_port;
		}
		rc = fifo_write_byte(lp->peer_fd, byte);
		if (rc != -EPIPE)
			break;
		/* The FIFO's reader is gone: the peer unbound, died, or rebound to a new FIFO. */
		peer_fd_drop(lp);
	}
	pthread_mutex_unlock(&e->lock);
	/* EAGAIN: the FIFO is full, the event is already pending. EPIPE: the peer is gone. */
	return rc == -EAGAIN || rc == -EPIPE ? 0 : rc;
}

int sim_evtchn_pending(void *priv)
{
	struct sim_evtchn *e = priv;
	struct epoll_event ev;
	char buf[FIFO_DRAIN_CHUNK];
	int n, fd;

	n = epoll_wait(e->epfd, &ev, 1, 0);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (n == 0)
		return -EAGAIN;
	pthread_mutex_lock(&e->lock);
	fd = ev.data.u32 < SIM_PORTS ? e->ports[ev.data.u32].fifo_fd : -1;
	/* Coalesce: every byte queued so far is this one delivery. */
	if (fd >= 0)
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	pthread_mutex_unlock(&e->lock);
	if (fd < 0)
		return -EAGAIN;
	return (int)ev.data.u32;
}

int sim_evtchn_unmask(void *priv, vha_evtchn_port_t port)
{
	struct sim_evtchn *e = priv;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u32 = port };
	int rc = 0;

	if (port == 0 || port >= SIM_PORTS)
		return -EINVAL;
	pthread_mutex_lock(&e->lock);
	if (e->ports[port].fifo_fd < 0)
		rc = -EINVAL;
	else if (epoll_ctl(e->epfd, EPOLL_CTL_MOD, e->ports[port].fifo_fd, &ev) != 0)
		rc = -errno;
	pthread_mutex_unlock(&e->lock);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * Event channels. Each end is a port of its domain with an eventfd that
 * counts pending notifications; ack clears it. A port whose peer closed
 * becomes unbound again (as in Xen; the old remote may bind it anew) and
 * notify on it fails with -ENOTCONN. Ports of a dead domain are closed:
 * their handles stay valid until closed, but are connected to nothing.
 * Port numbers count up from 1 per domain and are not reused.
 */
#include "hv/sim/sim_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PORTS_MAX 4096u

static struct vd_sim_port *port_from(struct vd_evtchn *ch)
{
	return (struct vd_sim_port *)(void *)ch;
}

static struct vd_evtchn *port_handle(struct vd_sim_port *p)
{
	return (struct vd_evtchn *)(void *)p;
}

static int port_new(struct vd_sim *sim, struct vd_sim_domain *d, uint32_t remote_domid,
		    struct vd_sim_port **ret)
{
	struct vd_sim_port *p;

	if (d->stats.ports_open >= PORTS_MAX || d->next_port == UINT32_MAX)
		return -ENOSPC;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0) {
		int r = -errno;

		free(p);
		return r;
	}
	p->sim = sim;
	p->dom = d;
	p->port = d->next_port++;
	p->remote_domid = remote_domid;
	vd_sim_list_add(&d->ports, &p->link);
	d->stats.ports_open++;
	vd_sim_ref(sim);
	*ret = p;
	return 0;
}

/* Unlink from the peer and from the domain; the handle itself stays. */
static void port_detach(struct vd_sim_port *p)
{
	if (p->peer)
		p->peer->peer = NULL;
	p->peer = NULL;
	if (p->dom) {
		vd_sim_list_del(&p->link);
		p->dom->stats.ports_open--;
	}
	p->dom = NULL;
}

static void port_free(struct vd_sim_port *p)
{
	struct vd_sim *sim = p->sim;

	port_detach(p);
	close(p->efd);
	free(p);
	vd_sim_unref(sim);
}

void vd_sim_domain_ports_close(struct vd_sim_domain *d)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &d->ports)
	    port_detach(vd_sim_container_of(pos, struct vd_sim_port, link));
}

int vd_sim_evtchn_alloc_unbound(struct vd_sim *sim, uint32_t domid, uint32_t remote_domid,
				uint32_t *ret_port, struct vd_evtchn **ret_ch)
{
	struct vd_sim_domain *d = vd_sim_domain_live(sim, domid);
	struct vd_sim_port *p;
	int r;

	if (!d)
		return -ESRCH;
	r = port_new(sim, d, remote_domid, &p);
	if (r < 0)
		return r;
	*ret_port = p->port;
	*ret_ch = port_handle(p);
	return 0;
}

static struct vd_sim_port *port_find(struct vd_sim_domain *d, uint32_t port)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &d->ports)
	{
		struct vd_sim_port *p = vd_sim_container_of(pos, struct vd_sim_port, link);

		if (p->port == port)
			return p;
	}
	return NULL;
}

int vd_sim_evtchn_bind(struct vd_hv *hv, uint32_t domid, uint32_t remote_port,
		       struct vd_evtchn **ret_ch)
{
	struct vd_sim_conn *c = vd_sim_conn_from_hv(hv);
	struct vd_sim_domain *rd = vd_sim_domain_live(c->sim, domid);
	struct vd_sim_domain *ld = vd_sim_domain_live(c->sim, c->domid);
	struct vd_sim_port *rp, *lp;
	int r;

	if (!rd || !ld)
		return -ESRCH;
	rp = port_find(rd, remote_port);
	if (!rp || rp->remote_domid != c->domid || rp->peer)
		return -EINVAL;
	r = port_new(c->sim, ld, domid, &lp);
	if (r < 0)
		return r;
	lp->peer = rp;
	rp->peer = lp;
	*ret_ch = port_handle(lp);
	return 0;
}

void vd_sim_evtchn_unbind(struct vd_hv *hv, struct vd_evtchn *ch)
{
	if (ch)
		port_free(port_from(ch));
}

void vd_sim_evtchn_close(struct vd_sim *sim, struct vd_evtchn *ch)
{
	if (ch)
		port_free(port_from(ch));
}

int vd_sim_evtchn_fd(struct vd_evtchn *ch)
{
	return port_from(ch)->efd;
}

int vd_sim_evtchn_ack(struct vd_evtchn *ch)
{
	uint64_t v;

	if (read(port_from(ch)->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int vd_sim_evtchn_notify(struct vd_evtchn *ch)
{
	struct vd_sim_port *p = port_from(ch);
	uint64_t one = 1;

	if (!p->dom || !p->peer)
		return -ENOTCONN;
	if (write(p->peer->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	p->peer->dom->stats.notifications_in++;
	return 0;
}

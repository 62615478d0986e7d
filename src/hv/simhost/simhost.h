/* SPDX-License-Identifier: MIT */
/*
 * A simulated Xen in a process of its own (vdispl-simhost), faithful to
 * what a backend domain's process sees on real Xen: the hypervisor, the
 * xenstore and the guests outlive the backend daemon.
 *
 * Client side: the "simhost" hypervisor (vd_hv_create("simhost")) connects
 * to the socket named by vd_hv_simhost_set_socket, else $VDISPL_SIM_SOCKET,
 * else VD_SIMHOST_DEFAULT_SOCKET. Every vd_hv_create is a connection of its
 * own (the display and the keyboard backends each open one).
 *
 * Server side: serves a struct vd_sim machine on a listening socket, one
 * Domain-0 connection of the machine per client. A client that goes (EOF)
 * is cleaned up as Xen cleans up after a dead Dom0 process: its event
 * channels are closed (the guests' ends become unbound), its grant handles
 * closed (mappings gone; exported dma-bufs live until their fds close),
 * its watches and transactions dropped. Xenstore contents stay.
 */
#ifndef VD_SIMHOST_H
#define VD_SIMHOST_H

#include <stdint.h>

#include <systemd/sd-event.h>

#include "hv/hv.h"

#define VD_SIMHOST_DEFAULT_SOCKET "/run/vdispl-simhost.sock"

/* Copies path; NULL: back to the default. 0 or -ENOMEM. */
int vd_hv_simhost_set_socket(const char *path);
/* The socket the next vd_hv_create("simhost") connects to. Borrowed. */
const char *vd_hv_simhost_socket(void);
int vd_hv_simhost_create(struct vd_hv **ret_hv);

struct vd_sim;
struct vd_simhost_server;

struct vd_simhost_server_stats {
	uint32_t clients;	/* connected now */
	uint64_t clients_total; /* ever accepted */
	uint64_t clients_gone;	/* went (EOF or error) */
	/* What went with clients that went without releasing it. */
	uint64_t reaped_ports, reaped_maps, reaped_gnts, reaped_watches;
	/* Held by connected clients now. */
	uint64_t ports, maps, gnts, watches;
};

/*
 * Appends the program's part of a STATUS answer (text) to buf, at most
 * size bytes; returns the length written. arg: the request's field a.
 */
typedef size_t (*vd_simhost_status_fn)(void *userdata, uint64_t arg, char *buf, size_t size);

/*
 * Listen on path (an existing socket file there is replaced) and serve sim
 * (borrowed; must outlive the server) on loop.
 */
int vd_simhost_server_create(sd_event *loop, struct vd_sim *sim, const char *path,
			     vd_simhost_status_fn status, void *userdata,
			     struct vd_simhost_server **ret);
/* Disconnects every client (cleaned up as above) and removes the socket. NULL ok. */
void vd_simhost_server_destroy(struct vd_simhost_server *srv);
void vd_simhost_server_get_stats(struct vd_simhost_server *srv,
				 struct vd_simhost_server_stats *ret);

#endif

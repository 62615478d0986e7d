/* SPDX-License-Identifier: MIT */
/*
 * What every xenbus backend here shares: discovery of the devices of one
 * backend kind under /local/domain/<own>/backend/<kind> (a watch on that
 * directory and on @releaseDomain, one per device on the frontend's
 * directory), and the xenbus state machine of each device (PROTOCOL.md
 * §1.3). The owner embeds a vd_xbdir and, FIRST in its device struct, a
 * vd_xbdev, and supplies vd_xbdev_ops for what is its own: the transport
 * it connects and tears down.
 */
#ifndef VD_XBDEV_H
#define VD_XBDEV_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "hv/hv.h"

struct vd_xbdir;

struct vd_xbdev {
	struct vd_xbdir *dir;
	struct vd_xbdev *next;
	uint32_t domid, devid;
	char *be_path, *fe_path, *name; /* owned */
	char fe_token[48];
	int be_state;	   /* last state we wrote */
	int fe_state;	   /* last frontend state seen */
	bool await_reinit; /* found Connected at start: wait until the frontend leaves Connected */
	bool detaching;	   /* toolstack asked to close */
	bool failed;	   /* protocol violation: closed until the frontend re-initialises */
	/*
	 * A toolstack setting the guest could have written: Closed until the
	 * toolstack adds the device again (its backend state Initialising).
	 */
	bool refused;
	struct vd_gnt *gnt;
	sd_event_source *fail_src; /* deferred teardown after a violation */
};

struct vd_xbdev_ops {
	const char *be_kind; /* backend/<be_kind>; also the token of the watch on it */
	const char *fe_kind; /* the frontend must live at device/<fe_kind>/<devid> */
	const char *label;   /* the device kind in logs */
	const char *token;   /* prefix of the per-device watch token */
	/*
	 * After a violation stay Closed (no InitWait) until the frontend starts
	 * over (Initialising, or Initialised again after Closed), and count a
	 * failed connect as a violation. For frontends that answer every
	 * InitWait by connecting the same transport again.
	 */
	bool sticky_fail;
	/* A zeroed derived object with its vd_xbdev first; the caller fills the base. */
	int (*create)(struct vd_xbdir *dir, struct vd_xbdev **ret);
	/* Optional: once, before the first InitWait. */
	void (*start)(struct vd_xbdev *dev);
	/* Frontend ready: map and bind. On failure everything is undone. */
	int (*connect)(struct vd_xbdev *dev);
	/* Undo connect; a no-op when not connected. */
	void (*teardown)(struct vd_xbdev *dev);
	/* Optional: a frontend node changed while Connected. */
	void (*recheck)(struct vd_xbdev *dev);
	/* Free the derived object (the base's fields are released already). */
	void (*destroy)(struct vd_xbdev *dev);
};

struct vd_xbdir {
	const struct vd_xbdev_ops *ops;
	sd_event *loop;
	struct vd_hv *hv; /* borrowed */
	char *root;	  /* /local/domain/<own>/backend/<be_kind> */
	sd_event_source *xs_src;
	struct vd_xbdev *devs;
	uint32_t ndevices;
	uint64_t protocol_errors; /* devices closed for a violation */
};

/*
 * Borrows loop, hv and ops. Starts watching and picks up the devices that
 * exist already. On failure dir is left for vd_xbdir_finish.
 */
int vd_xbdir_init(struct vd_xbdir *dir, sd_event *loop, struct vd_hv *hv,
		  const struct vd_xbdev_ops *ops);
/* Tells every guest the backend is gone (Closed) and frees every device. Safe on a zeroed dir. */
void vd_xbdir_finish(struct vd_xbdir *dir);
/*
 * A protocol violation: the caller stops serving at once; the teardown
 * runs from the loop (the caller may be inside a ring walk) and the
 * device goes Closed.
 */
void vd_xbdev_fail(struct vd_xbdev *dev, const char *why);
/*
 * A toolstack setting in the frontend's directory (node, relative to it),
 * trusted only where xenstore's permissions say the guest cannot have
 * written it: owned by domain 0 or this backend's domain and not writable
 * by the guest, as libxl writes its read-only frontend nodes. 0 and the
 * value (the caller frees), or -ENOENT if absent. A setting the guest
 * could have written refuses the device (one line naming the node and
 * why; connect fails and the device stays Closed): -EPERM.
 */
int vd_xbdev_read_setting(struct vd_xbdev *dev, const char *node, char **ret_value);

#endif

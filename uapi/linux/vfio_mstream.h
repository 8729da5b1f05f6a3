/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vfio_mstream.h - VFIO migration data protocol "v3": one critical-data FD
 * plus N dirty-data FDs per device.
 *
 * This is an RFC proposal, not a merged uAPI. The feature indexes and the
 * ioctl number below are placeholders chosen well clear of upstream's; a
 * merged version would take the next free values of include/uapi/linux/vfio.h.
 *
 * Relation to the v2 protocol (VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE and the
 * data_fd it returns): v3 changes only how the device's state is carried. The
 * migration states, the arcs between them and vfio_mig_get_next_state() are
 * unchanged. A user that never SETs VFIO_DEVICE_FEATURE_MIG_MULTISTREAM sees
 * exactly v2, and a driver that does not implement it answers the feature
 * with -ENOTTY, as for any unknown feature.
 *
 * Overview of a v3 migration of a device that supports N dirty streams:
 *
 *  source                                  destination
 *  SET MIG_MULTISTREAM{num_dirty = n}      SET MIG_MULTISTREAM{num_dirty = n}
 *  RUNNING -> PRE_COPY: data_fd = crit     STOP -> RESUMING: data_fd = crit
 *  GET MIG_STREAM_FDS: dirty fds 1..n      GET MIG_STREAM_FDS: dirty fds 1..n
 *  read every fd concurrently  ------->    write each to the fd of the same id
 *  switchover once crit pending == 0
 *  PRE_COPY -> STOP_COPY
 *  read every fd until it returns 0 ---->  write; RESUMING -> STOP checks that
 *                                          all n + 1 streams ended
 */
#ifndef _UAPI_LINUX_VFIO_MSTREAM_H
#define _UAPI_LINUX_VFIO_MSTREAM_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/vfio.h>

/*
 * This header builds on the v2 definitions of <linux/vfio.h> as of Linux 6.2
 * (the PRE_COPY states, VFIO_MIG_GET_PRECOPY_INFO); older build headers
 * (Debian 12 ships 6.1's) need them supplied first, as the project's
 * userspace/lib/vfio_compat.h does.
 *
 * Linux 7.1 added PRECOPY_INFOv2 and REINIT: defined here for build headers
 * that predate it, with the values upstream assigned.
 * VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 is SET with no payload: it opts the
 * device's data_fd into re-armed initial_bytes and VFIO_PRECOPY_INFO_REINIT.
 */
#ifndef VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 12
#endif
#ifndef VFIO_PRECOPY_INFO_REINIT
#define VFIO_PRECOPY_INFO_REINIT (1 << 0)
#endif

/**
 * DOC: VFIO migration v3 streams
 *
 * Stream 0 is the *critical* stream. It carries only the data the destination
 * needs before the device can run there (what v2 reports as initial_bytes):
 * configuration, compatibility data, setup state. Streams 1..N are *dirty*
 * streams and carry the bulk of the device state, sharded by the driver so
 * that each stream is self-contained: the destination may consume the streams
 * in any interleaving, at any relative speed, and ends up with the same device
 * state. Within one stream, order matters and bytes must be written to the
 * destination in the order they were read from the source.
 *
 * Every stream is an opaque, driver-defined byte stream, as data_fd is in v2.
 * Userspace does not parse it; it only keeps stream i of the source connected
 * to stream i of the destination. Each stream is read from (saving) or written
 * to (resuming) through its own file descriptor, which supports read()/write()
 * (including read_iter/write_iter with IOCB_NOWAIT, so io_uring completes them
 * inline or through poll), poll() and O_NONBLOCK (-EAGAIN when no data is
 * ready), and the %VFIO_MIG_GET_STREAM_INFO ioctl.
 *
 * Reading a stream FD follows v2's data_fd rules, per stream:
 *
 * - -ENOMSG in PRE_COPY/PRE_COPY_P2P: the stream has no more data for now.
 *   %VFIO_MIG_GET_STREAM_INFO on that FD reports what it could produce next
 *   and, for a dirty stream with dirty data, starts its next pass.
 * - 0 (end of file) once the device is in STOP_COPY and the stream has
 *   delivered its last byte, which in the sample driver is an END record.
 *   The critical stream reaches its end only after every dirty stream has
 *   produced its last byte: until the save is complete the device may still
 *   produce new critical data (see below). Userspace therefore reads the
 *   FDs concurrently, or polls them; a loop that reads the critical FD to
 *   end of file before reading any dirty FD waits forever.
 * - poll() reports EPOLLIN when data is ready or a read would return 0 or
 *   an error. A stream at its temporary end (-ENOMSG) is not readable: poll
 *   waits until new data arrives (its next pass, new critical data) or the
 *   session ends, as for v2's data_fd in mlx5, so that a poller, or an
 *   io_uring read armed on poll, does not spin on a parked stream.
 *
 * Critical data and REINIT: when the device produces new critical data (it was
 * reconfigured while saving), the driver queues it on the critical stream only
 * and flags %VFIO_MIG_STREAM_INFO_REINIT there. Dirty data already queued is
 * neither flushed first nor promoted to critical: the new critical data is
 * readable at once, whatever the dirty backlog. This is the behaviour v2 cannot
 * offer on one ordered stream, where PRECOPY_INFOv2 must count every byte
 * queued ahead of the new critical data as initial_bytes.
 *
 * Switchover: userspace should not leave PRE_COPY while the critical stream
 * reports pending bytes; as in v2 this is advice, since the counts are
 * estimates while the device runs. Once the device is stopped (STOP_COPY) the
 * guest can no longer cause new critical data, but the device itself may
 * still produce some while its save is in progress (firmware completing a
 * setup step; the sample driver's `reinit` knob models it). It is queued on
 * the critical stream, readable at once, and flagged as in PRE_COPY. The
 * dirty streams' counts are exact in STOP_COPY; the critical stream's count
 * is exact until such a REINIT. Once every dirty stream has produced its
 * last byte the save is complete: the driver accepts no new critical data
 * for this session (the sample driver refuses the change with -EBUSY rather
 * than let the source and the destination diverge), and the critical stream
 * ends as soon as the critical data accepted before is queued. The time to
 * the end of a STOP_COPY save is therefore bounded by the dirty streams,
 * whatever the device does.
 *
 * Errors of the stream FDs, in the order they are checked (the first that
 * applies is returned):
 *
 * - read() of a source FD: the errno a failure latched on the stream (a
 *   failed dirty stream is latched on the critical stream too); -ENODEV once
 *   the session ended (a cancel, VFIO_DEVICE_RESET, the device FD closed);
 *   0 at the end of the stream in STOP_COPY; -ENOMSG at a temporary end in
 *   PRE_COPY/PRE_COPY_P2P; -EAGAIN with O_NONBLOCK or IOCB_NOWAIT when no
 *   data is ready or another reader is copying. Data queued before an end
 *   or a failure is returned first; a cancel drops it.
 * - write() of a destination FD: -EAGAIN with O_NONBLOCK or IOCB_NOWAIT
 *   while another write is in progress; -ENODEV once the session ended; the
 *   errno latched by the first malformed record (every later write returns
 *   it); -EAGAIN with O_NONBLOCK or IOCB_NOWAIT when applying critical data
 *   would wait (nothing is lost: the record completes with the next write).
 * - read() of a destination FD, write() of a source FD: -EBADF (the FDs
 *   are O_WRONLY and O_RDONLY).
 * - %VFIO_MIG_GET_STREAM_INFO: -EFAULT when the argument cannot be read;
 *   -EINVAL for a short @argsz or non-zero @flags; -ENODEV once the session
 *   ended; -EINVAL on a destination FD or outside PRE_COPY, PRE_COPY_P2P
 *   and STOP_COPY; -EFAULT when the reply cannot be written.
 * - VFIO_MIG_GET_PRECOPY_INFO: on the critical FD, -EFAULT when the
 *   argument cannot be read; -EINVAL for a short argsz; -ENODEV once the
 *   session ended; -EINVAL outside PRE_COPY and PRE_COPY_P2P (vfio.h);
 *   -EFAULT when the reply cannot be written. -ENOTTY on a dirty or
 *   destination FD.
 *
 * An ioctl's argument is read before anything is checked, since its size
 * is in it: an unreadable one is -EFAULT whatever the FD's session.
 * - Any other ioctl: -ENOTTY.
 *
 * Size of an FD ioctl's argument, as in vfio.h: an @argsz below the
 * structure (up to its last field) is -EINVAL; a larger @argsz is accepted,
 * and the bytes past the structure are neither read nor written. The same
 * holds for the payload of the device features below (the argsz of struct
 * vfio_device_feature less its header).
 *
 * On the device FD: a SET of VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE in
 * VFIO_DEVICE_STATE_ERROR is -EINVAL until VFIO_DEVICE_RESET; closing the
 * device FD ends any session (its stream FDs then answer -ENODEV) and
 * selects v2 again.
 *
 * Failure: a dirty stream that fails on the source fails the critical stream
 * with the same errno (returned by its reads once its queued data is read),
 * so that a reader of the critical stream does not wait for an end that
 * cannot come.
 *
 * Cancel: any saving state may go back to RUNNING (or STOP) at any moment, as
 * in v2; every stream FD then returns -ENODEV and the device state is intact.
 * -ENODEV is what reads, %VFIO_MIG_GET_STREAM_INFO and (on the critical FD)
 * VFIO_MIG_GET_PRECOPY_INFO return on an FD of an ended session, whatever
 * the device's state; only a bad argument is reported first: -EFAULT when
 * it cannot be read, -EINVAL when it is malformed (a short argsz, non-zero
 * flags).
 * A destination that leaves RESUMING for STOP before every stream has ended,
 * or after a stream was found corrupt, fails that arc and the device enters
 * VFIO_DEVICE_STATE_ERROR.
 */

/**
 * VFIO_DEVICE_FEATURE_MIG_MULTISTREAM - select the v3 multi-stream protocol
 *
 * Upon VFIO_DEVICE_FEATURE_GET, reports the current selection and the
 * driver's limit. Upon VFIO_DEVICE_FEATURE_SET, selects the protocol used by
 * the next saving or resuming session: @num_dirty = 0 restores v2 (one
 * data_fd), @num_dirty = 1..@max_dirty selects v3 with that many dirty
 * streams. SET is allowed only while no saving or resuming session exists
 * (device in RUNNING, RUNNING_P2P or STOP); otherwise it fails with -EBUSY.
 * The selection persists until the next SET or a device reset; closing the
 * device resets it to v2.
 *
 * With v3 selected, the arcs that return a data_fd in v2 (RUNNING ->
 * PRE_COPY, STOP -> STOP_COPY and STOP -> RESUMING, possibly as part of a
 * combination arc) return the critical stream's FD in its place; the dirty
 * streams are obtained with %VFIO_DEVICE_FEATURE_MIG_STREAM_FDS.
 *
 * The source and the destination must select the same @num_dirty: the driver
 * checks it against the source's and fails the first write of a mismatched
 * stream with -EINVAL.
 *
 * Support is detected with VFIO_DEVICE_FEATURE_PROBE | _GET | _SET.
 *
 * GET reads nothing from the payload and fails only for a short argsz
 * (-EINVAL). SET checks, in this order (the first that applies is
 * returned): -EINVAL for a short argsz or a non-zero @flags, @max_dirty or
 * @reserved; -ERANGE for @num_dirty above @max_dirty; -EBUSY outside
 * RUNNING, RUNNING_P2P and STOP.
 */
#define VFIO_DEVICE_FEATURE_MIG_MULTISTREAM 256

/**
 * struct vfio_device_feature_mig_multistream - payload of
 *	%VFIO_DEVICE_FEATURE_MIG_MULTISTREAM
 * @flags: GET: 0. SET: must be 0; no flags are defined (-EINVAL otherwise).
 * @num_dirty: GET: dirty streams selected (0 = v2). SET: dirty streams wanted.
 *	A SET above @max_dirty fails with -ERANGE.
 * @max_dirty: GET: most dirty streams this device supports, at least 1.
 *	SET: must be 0 (-EINVAL otherwise).
 * @reserved: GET: 0. SET: must be 0 (-EINVAL otherwise).
 *
 * The payload of a GET is output only, as for vfio.h's GET features: what
 * the caller left in it is not checked.
 */
struct vfio_device_feature_mig_multistream {
	__u32 flags;
	__u32 num_dirty;
	__u32 max_dirty;
	__u32 reserved;
};

/**
 * VFIO_DEVICE_FEATURE_MIG_STREAM_FDS - get the dirty stream FDs of a session
 *
 * Upon VFIO_DEVICE_FEATURE_GET, installs a new file descriptor for each dirty
 * stream 1..N of the current v3 saving or resuming session, in stream order,
 * into @fds. Each call installs new descriptors (which refer to the same
 * streams, as dup() would: the descriptors of one stream share its file
 * status flags, O_NONBLOCK included); the caller owns and closes them.
 * Closing a stream FD early does not end the session. On the source, once
 * every descriptor of a dirty stream is closed, the stream is abandoned: its
 * data is dropped, and it no longer holds back the end of the critical
 * stream, so that the others can still be read to their end (a source
 * stream nobody reads would otherwise keep the save from completing). A
 * destination missing a stream fails RESUMING -> STOP.
 *
 * Errors, in the order they are checked (the first that applies is
 * returned): -EINVAL for a SET, an argsz below the header or a non-zero
 * @flags; -ENOENT when no v3 session is open (v2 selected, or the device is
 * not in a saving or resuming state); -ENOSPC when @num_fds is below N, with
 * N written to @num_fds; -EINVAL when argsz has no room for N entries of
 * @fds; -ENODEV when a dirty stream of the source was abandoned. The FDs are
 * opened O_RDONLY on the source and O_WRONLY on the destination, like
 * data_fd.
 */
#define VFIO_DEVICE_FEATURE_MIG_STREAM_FDS 257

/**
 * struct vfio_device_feature_mig_stream_fds - payload of
 *	%VFIO_DEVICE_FEATURE_MIG_STREAM_FDS
 * @num_fds: In: entries available in @fds. Out: number of dirty streams N.
 * @flags: Must be 0. Out: %VFIO_MIG_STREAM_FDS_RESUMING on a resuming
 *	session.
 * @fds: Out: the FD of dirty stream i + 1 at index i.
 */
struct vfio_device_feature_mig_stream_fds {
	__u32 num_fds;
	__u32 flags;
#define VFIO_MIG_STREAM_FDS_RESUMING (1 << 0)
	__s32 fds[];
};

/**
 * struct vfio_mig_stream_info - argument of %VFIO_MIG_GET_STREAM_INFO
 * @argsz: In: size of the structure the caller passes.
 * @flags: In: 0. Out: %VFIO_MIG_STREAM_INFO_REINIT (critical data was re-armed
 *	since the previous call), %VFIO_MIG_STREAM_INFO_CRITICAL (this is stream
 *	0), %VFIO_MIG_STREAM_INFO_END (the stream has produced its last byte; in
 *	STOP_COPY, reads return 0 once @queued_bytes reaches 0).
 * @stream_id: Out: 0 for the critical stream, 1..N for the dirty streams.
 * @num_streams: Out: N + 1.
 * @pending_bytes: Out: see above.
 * @queued_bytes: Out: bytes produced by the device and not yet read, a subset
 *	of @pending_bytes; what a read can return without waiting.
 */
struct vfio_mig_stream_info {
	__u32 argsz;
	__u32 flags;
#define VFIO_MIG_STREAM_INFO_REINIT	(1 << 0)
#define VFIO_MIG_STREAM_INFO_CRITICAL	(1 << 1)
#define VFIO_MIG_STREAM_INFO_END	(1 << 2)
	__u32 stream_id;
	__u32 num_streams;
	__aligned_u64 pending_bytes;
	__aligned_u64 queued_bytes;
};

/**
 * VFIO_MIG_GET_STREAM_INFO - _IO(VFIO_TYPE, VFIO_BASE + 64)
 *
 * On any v3 stream FD, in PRE_COPY, PRE_COPY_P2P or STOP_COPY, reports how much
 * the stream holds. It takes PRECOPY_INFO's place per stream (the critical FD
 * also answers VFIO_MIG_GET_PRECOPY_INFO, with initial_bytes = its pending
 * bytes and dirty_bytes = the sum over the dirty streams, so that v2 logic
 * keeps working on it). Selecting v3 opts into re-armed critical bytes: on
 * the critical FD, initial_bytes rises again after a REINIT whether or not
 * VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 was set. VFIO_PRECOPY_INFO_REINIT is
 * reported there only with that opt-in (otherwise @flags is echoed, as in
 * v2), and it is the same once-per-REINIT flag as
 * %VFIO_MIG_STREAM_INFO_REINIT: whichever ioctl reports it first clears it.
 *
 * On the critical FD, @pending_bytes counts critical bytes not yet read. It
 * decreases as the FD is read and rises again only with a REINIT, which also
 * sets %VFIO_MIG_STREAM_INFO_REINIT in the next reply (once per REINIT). On a
 * dirty FD, @pending_bytes estimates the dirty bytes of its shard that the
 * stream can still deliver (queued, in flight and still dirty); it is volatile
 * while the device runs. If the stream sits at its temporary end (reads return
 * -ENOMSG) and its shard has dirty data, this call starts the stream's next
 * pass.
 *
 * In STOP_COPY the counts are exact: the bytes still to be read before the
 * stream's end of file. A REINIT during the STOP_COPY save (see "VFIO
 * migration v3 streams") raises the critical FD's count again.
 *
 * Return: 0 on success. -EINVAL if @argsz is below the size of the structure
 * up to @queued_bytes or @flags is not 0; -EINVAL in any other device state;
 * -ENODEV if the session ended (the device left the saving state).
 */
#define VFIO_MIG_GET_STREAM_INFO _IO(VFIO_TYPE, VFIO_BASE + 64)

#endif /* _UAPI_LINUX_VFIO_MSTREAM_H */

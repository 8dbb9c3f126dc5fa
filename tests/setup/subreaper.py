#!/usr/bin/env python3
"""Runs a program as a child subreaper would: usage subreaper.py PROGRAM [ARGS...].

Becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER), starts PROGRAM as its child and
reaps every process that exits under it, PROGRAM's own children and the orphans they leave
(QEMU, which libvirtd starts daemonized), as soon as each exits. It ends when none is left.

Why: a daemonized QEMU's parent is whoever reaps orphans, normally init. Some test machines'
init reaps orphans only every second or two, and libvirt's domain destroy waits until the
killed QEMU is gone from the process table: every terminate then took 1.2-1.8 s, of which
QEMU's own exit is 20 ms. See docs/hypervisor.md, "A libvirt daemon for tests".
"""
import ctypes
import os
import sys

PR_SET_CHILD_SUBREAPER = 36


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: subreaper.py PROGRAM [ARGS...]")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("subreaper.py: prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[1], argv[1:])
        finally:
            os._exit(127)
    status = 0
    while True:
        try:
            child, code = os.wait()
        except ChildProcessError:
            break
        if child == pid:
            status = os.waitstatus_to_exitcode(code)
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main(sys.argv)

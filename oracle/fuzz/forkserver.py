"""The forkserver that worker processes are forked from.

The server imports the worker code, torch included (~2-3 s), once; each worker is then forked from
it in milliseconds. This module imports no more than multiprocessing, so the fuzz command can
start the server before its own slow imports and overlap the two.
"""
import multiprocessing
import multiprocessing.forkserver

PRELOAD = ["torch", "oracle.fuzz.workers"]  # what every worker imports: torch, and the worker processes' code


def context():
    """The forkserver context, its server started (once) with PRELOAD imported."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()
    return ctx

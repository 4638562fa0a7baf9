"""Hostile engines: untrusted code that a fuzzing campaign must survive (and report), not engines to find bugs in.

Each module's docstring says what it does to the campaign. None of them acts outside its own process tree: no
writes outside /tmp (none at all, but to their own stdout and stderr), no network, no signals to other
processes, memory capped at 3 GB, a forked child that exits by itself. Import `recursion_limit`, `patches_math`
and `exits_at_import` only in a process of their own, and run the hanging, forking, flooding, memory-eating and
crashing ones only in a subprocess with a timeout and a process-group kill. Engine spec: `tests.hostile.<name>:Value`.
"""

HOSTILE = {
    "recursion_limit": "sys.setrecursionlimit(50) at import",
    "patches_math": "at import, math.exp returns 2*exp(x), torch.tanh and Tensor.tanh return x/2",
    "hangs_in_op": "tanh never returns (sleeps in a loop)",
    "hangs_deaf": "tanh blocks SIGALRM and then sleeps forever: only killing the process stops it",
    "slow_add": "__add__ sleeps 5 s on every call",
    "forks_child": "tanh forks a child that sleeps 600 s holding the inherited file descriptors (once per process)",
    "floods_output": "tanh prints 4 MB to stdout and writes 1 MB to fd 2 on every call (the first 50 in a process)",
    "eats_memory": "exp allocates 100 MB at a time, kept alive, up to 3 GB",
    "many_bugs": "five bugs in five ops: mul's rule, tanh's rule, relu at 0, exp's value, __rsub__ swapped",
    "numpy_data": "not drivable: .data is an array of three numbers",
    "no_backward": "not drivable: no backward method",
    "exits_at_import": "sys.exit(3) at import",
    "segfaults_in_exp": "exp kills its own process with SIGSEGV",
    "segfaults_at_zero": "exp kills its own process with SIGSEGV at 0 alone",
    "hangs_deaf_at_zero": "tanh blocks SIGALRM and sleeps forever at 0 alone",
    "holds_memory": "exp allocates 800 MB on every call and keeps it",
    "hangs_deaf_on_deep": "backward() on a graph of more than 500 nodes blocks SIGALRM and sleeps forever",
}

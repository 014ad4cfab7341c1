"""Starts one training process per core or GPU, without torchrun (Debian's fails under Python 3.11).

    python3 -m musicgen_torch.launch --nproc 2 train --data prepared/ --out models/big
    # several machines: the same command on each, with --nnodes N --node-rank R --master-addr HOST0 --master-port P

Each child runs `python3 -m musicgen_torch ...` with RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and
MASTER_PORT set (the usual torch.distributed env:// rendezvous) and OMP_NUM_THREADS set to its share of the
cores (OMP_WAIT_POLICY=PASSIVE unless set: spinning OpenMP threads slowed a 2-thread process 20-fold on a
busy machine). When one child fails, the others are stopped and the launcher exits with its code.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from typing import List, Optional

from . import OneLineParser


def free_port() -> int:
    """A TCP port free on this machine now (for a run on one machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: Optional[List[str]] = None) -> int:
    p = OneLineParser(prog="python3 -m musicgen_torch.launch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nproc", type=int, default=0, help="processes on this machine (0: one per GPU, or per core without GPUs)")
    p.add_argument("--nnodes", type=int, default=1, help="machines in the run")
    p.add_argument("--node-rank", type=int, default=0, help="this machine's number, 0 to nnodes-1 (0 is the one at --master-addr)")
    p.add_argument("--master-addr", default="127.0.0.1", help="address of machine 0, reachable from every machine")
    p.add_argument("--master-port", type=int, default=0, help="a free TCP port on machine 0 (0: any free port; needs --nnodes 1)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the musicgen_torch command and its flags (train ..., bench ...)")
    a = p.parse_args(argv)
    try:
        import torch

        gpus = torch.cuda.device_count() if os.environ.get("MUSICGEN_DEVICE", "") != "cpu" else 0
    except ImportError:
        print("error: PyTorch is not installed for this python (Debian/Ubuntu: sudo apt-get install python3-torch)", file=sys.stderr)
        return 1
    cores = os.cpu_count() or 1
    nproc = a.nproc or gpus or cores
    problems = [
        ("--nproc", a.nproc < 0 or (gpus > 0 and nproc > gpus), f"between 1 and the {gpus} GPUs here" if gpus else "≥ 1"),
        ("--nnodes", a.nnodes < 1, "≥ 1"),
        ("--node-rank", not 0 <= a.node_rank < a.nnodes, f"in [0, {a.nnodes - 1}]"),
        ("--master-port", a.master_port == 0 and a.nnodes > 1, "given (the same free port on every machine) when --nnodes > 1"),
        ("command", not a.command, "given: train ... or bench ..."),
    ]
    for flag, bad, want in problems:
        if bad:
            print(f"error: {flag} must be {want}", file=sys.stderr)
            return 2
    port = a.master_port or free_port()
    threads = max(1, cores // nproc) if not gpus else 1
    children: List[subprocess.Popen[bytes]] = []
    for local in range(nproc):
        env = dict(os.environ, RANK=str(a.node_rank * nproc + local), LOCAL_RANK=str(local), WORLD_SIZE=str(a.nnodes * nproc),
                   MASTER_ADDR=a.master_addr, MASTER_PORT=str(port), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", str(threads)),
                   OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))  # fmt: skip
        args = list(a.command)
        if args and args[0] in ("train", "bench") and "--threads" not in args:
            args += ["--threads", env["OMP_NUM_THREADS"]]
        children.append(subprocess.Popen([sys.executable, "-m", "musicgen_torch", *args], env=env))
    code = 0
    try:
        while children:
            for c in list(children):
                rc = c.poll()
                if rc is None:
                    continue
                children.remove(c)
                if rc != 0 and code == 0:
                    code = rc
                    for other in children:
                        other.send_signal(signal.SIGTERM)
            time.sleep(0.1)
    except KeyboardInterrupt:
        for c in children:
            c.send_signal(signal.SIGINT)
        for c in children:
            c.wait()
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())

"""musicgen_torch: trains musicgen's default (token) model family data-parallel on PyTorch DDP.

It reads the shards of `musicgen prepare` (data.py), trains with DistributedDataParallel (train.py,
started by launch.py), and reads and writes musicgen's own model folder (folder.py), so `musicgen generate`,
`evaluate` and the notebook use the result unchanged. See docs/distributed.md.
"""


class UserError(Exception):
    """A problem with the user's input or files: printed as one line, without a traceback."""

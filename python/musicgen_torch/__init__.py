"""musicgen_torch: trains musicgen's token and note model families data-parallel on PyTorch DDP.

It reads the shards of `musicgen prepare` (data.py; the note family's steps: note_data.py), trains with DistributedDataParallel (train.py,
started by launch.py), and reads and writes musicgen's own model folder (folder.py), so `musicgen generate`,
`evaluate` and the notebook use the result unchanged. See docs/distributed.md.
"""

import argparse
from typing import NoReturn


class UserError(Exception):
    """A problem with the user's input or files: printed as one line, without a traceback."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (`error: ...`) without the usage block; --help still shows it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")

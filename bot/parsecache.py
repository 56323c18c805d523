"""Remember, across processes, how each policy and school file was read, so a start skips re-parsing them.

`check_knowledge` already reuses a file's `LoadedFile` while its bytes and what it is checked against are
unchanged; this keeps those records on disk (one pickle per knowledge directory, in the data directory), so
`kb validate` and a server start at hundreds of schools parse only the files that changed. A cache that is
missing, unreadable, or written by other loader code is ignored: it can never break or change a load.
"""

from __future__ import annotations

import contextlib
import copyreg
import gc
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

import yaml

from bot.knowledge import LoadedFile

log = logging.getLogger("policybot.parsecache")

FORMAT = 1  # bump when the layout of the cache file changes
# The code whose output is cached: any change to it makes every cache file stale.
LOADER_SOURCES = ("knowledge.py", "yamlsource.py", "errors.py")


@cache
def loader_fingerprint() -> str | None:
    """What the cached records depend on besides the files: the loader's code, PyYAML and Python versions.

    None when the loader's source cannot be read (then nothing is cached: a code change could not be noticed).
    """
    digest = hashlib.sha256(f"{sys.version}\0{yaml.__version__}\0".encode())
    here = Path(__file__).resolve().parent
    for name in LOADER_SOURCES:
        try:
            digest.update((here / name).read_bytes())
        except OSError:
            return None
    return digest.hexdigest()


def _mappingproxy(data: dict) -> MappingProxyType:
    return MappingProxyType(data)


def _reduce_mappingproxy(proxy: MappingProxyType) -> tuple:
    return _mappingproxy, (dict(proxy),)


class _Pickler(pickle.Pickler):
    """A pickler that can write the loader's read-only mappings (this pickler only: nothing global changes), and
    writes each distinct piece of text once.

    Clauses repeat the same topic, role and section ids, headings and file names thousands of times, each as a
    string of its own; pickle shares only the very same object. Handing it one object per distinct value makes
    every repeat a back-reference, which is what makes reading the cache fast. The objects read back are equal
    to the ones written; they only share their strings.
    """

    dispatch_table = {**copyreg.dispatch_table, MappingProxyType: _reduce_mappingproxy}

    def __init__(self, file, protocol: int):
        super().__init__(file, protocol)
        self.strings: dict[str, str] = {}

    def shared(self, value):
        if type(value) is str:
            return self.strings.setdefault(value, value)
        if type(value) is tuple:
            return tuple(self.shared(v) for v in value)
        return value

    def reducer_override(self, obj):
        if not _plain_dataclass(type(obj)):
            return NotImplemented
        state = {k: self.shared(v) for k, v in vars(obj).items()}
        return copyreg.__newobj__, (type(obj),), state


@cache
def _plain_dataclass(cls: type) -> bool:
    """A dataclass that pickles as its class and its instance's __dict__, as the loader's records all do: one
    the pickler can write the same way with shared strings."""
    return (
        hasattr(cls, "__dataclass_fields__")
        and "__slots__" not in vars(cls)
        and cls.__reduce_ex__ is object.__reduce_ex__
        and cls.__reduce__ is object.__reduce__
        and getattr(cls, "__getstate__", object.__getstate__) is object.__getstate__
        and not hasattr(cls, "__setstate__")
    )


class ParseCache:
    """The `LoadedFile` records of each knowledge directory read, kept in `directory` (one file per directory).

    Trust: the files live in the application's own data directory and are written only by it (like the SQLite
    log and embedding caches), so unpickling them is no more than reading our own state back. A file anyone
    else can write to is as dangerous as a writable copy of the code; they are created readable by the owner only.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def path_for(self, root: Path) -> Path:
        key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:24]
        return self.directory / f"{key}.pickle"

    @staticmethod
    def _header(root: Path) -> tuple | None:
        fingerprint = loader_fingerprint()
        return None if fingerprint is None else ("policybot-parse-cache", FORMAT, fingerprint, str(root))

    def read(self, root: Path) -> dict[str, LoadedFile]:
        """The files remembered for knowledge directory `root`; empty when there are none worth trusting."""
        header = self._header(root)
        if header is None:
            return {}
        path = self.path_for(root)
        try:
            with path.open("rb") as f:
                if pickle.load(f) != header:  # the header is a few strings: cheap to check first
                    return {}
                enabled = gc.isenabled()
                gc.disable()  # some 100k objects, none of them garbage: collecting as they arrive is wasted time
                try:
                    files = pickle.Unpickler(f).load()
                finally:
                    if enabled:
                        gc.enable()
        except FileNotFoundError:
            return {}
        except Exception as exc:  # corrupt, truncated, unreadable: a full parse is always the right answer
            log.warning("parse cache %s not used (%s: %s); reading every file", path, type(exc).__name__, exc)
            return {}
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and type(v) is LoadedFile for k, v in files.items()
        ):
            log.warning("parse cache %s not used (unexpected content); reading every file", path)
            return {}
        return files

    def write(self, root: Path, files: Mapping[str, LoadedFile]) -> None:
        """Remember `files` for `root`, replacing what was remembered; a failure is logged, never raised."""
        header = self._header(root)
        if header is None:
            return
        path = self.path_for(root)
        temp: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            # mkstemp creates the file 0600; os.replace makes it appear whole or not at all. No fsync: a file
            # lost or cut short by a crash is only a slower next start.
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{path.stem}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                pickle.dump(header, f, protocol=5)
                _Pickler(f, protocol=5).dump(dict(files))
            os.replace(temp, path)
            temp = None
        except Exception as exc:
            log.warning("parse cache %s not written (%s: %s)", path, type(exc).__name__, exc)
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)

"""The embedded default cache: Django's file cache, shared by every local process, with an
`add()` that is atomic across them (the cache layer's single-flight locks need it)."""

import os
import tempfile
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache


class SharedFileCache(FileBasedCache):
    # FileBasedCache's internals, which the stubs do not declare.
    _dir: str
    _createdir: Any
    _key_to_file: Any
    _write_content: Any
    _delete: Any

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        """Store `value` only if no live entry holds `key`: written whole to a temporary
        file, then hard-linked into place, which fails if another process got there first."""
        self._createdir()
        name = self._key_to_file(key, version)
        fd, temporary = tempfile.mkstemp(dir=self._dir)
        try:
            with open(fd, "wb") as file:
                self._write_content(file, timeout, value)
            for _ in range(2):
                try:
                    os.link(temporary, name)
                    return True
                except FileExistsError:
                    if self.has_key(key, version):  # live: someone else holds it
                        return False
                    self._delete(name)  # expired (has_key removed it, or it is gone)
            return False
        finally:
            os.remove(temporary)

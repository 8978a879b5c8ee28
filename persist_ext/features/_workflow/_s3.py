"""functionfuse's S3 storage kind: workflow results as objects in an S3 bucket.

Built on :mod:`s3fs` (fsspec), so anything that speaks the S3 API works: AWS, MinIO, Ceph,
a moto server in tests. Layout, as the file kind: ``<path>/<workflow>/<task>`` and side
files of persistent serializers under ``<path>/<workflow>/.side/<task>/``. Every object
carries the same framing and checksum as the file kind. An S3 PUT is atomic (readers see the
old object or the new one), so no temporary objects are needed.
"""

from __future__ import annotations

import posixpath
from typing import Any

from ..._errors import WorkflowError
from ._base import S3_PROTOCOL, WorkflowStorage

__all__ = ["S3Storage"]

_SIDE_DIR = ".side"


class S3Storage(WorkflowStorage):
    """Workflow results in S3 under ``path`` (``"bucket/prefix"``).

    Parameters
    ----------
    path
        Bucket and optional prefix, ``"bucket"`` or ``"bucket/some/prefix"`` (an
        ``s3://`` prefix is accepted).
    s3fs
        Keyword arguments for :class:`s3fs.S3FileSystem` (the seed's option name), e.g.
        ``{"key": ..., "secret": ..., "client_kwargs": {"endpoint_url": ...}}``.

    ``protocols["S3_PROTOCOL"]`` gives serializers ``{"client": <S3FileSystem>, "folder":
    <side folder of the task>}``.

    Example (against a real S3 endpoint; ``tests/unit/test_workflow_s3.py`` runs it against
    a moto server)::

        storage = storage_factory({"kind": "S3", "options": {
            "path": "results", "s3fs": {"client_kwargs": {"endpoint_url": url}}}})
        storage.save("wf", "fit", model)
    """

    kind = "s3"

    def __init__(self, path: str, s3fs: dict[str, Any] | None = None) -> None:
        super().__init__()
        try:
            import s3fs as s3fs_module
        except ImportError as exc:  # pragma: no cover - s3fs is in the test extras
            raise WorkflowError(
                'The "s3" storage kind needs s3fs: pip install "persist_ext[s3]".'
            ) from exc
        if not isinstance(path, str) or not path.removeprefix("s3://").strip("/"):
            raise WorkflowError(f'S3 storage needs path="bucket[/prefix]", got {path!r}.')
        if s3fs is not None and not isinstance(s3fs, dict):
            raise WorkflowError(f"s3fs options must be a dict, got {type(s3fs).__name__}.")
        self.path = path.removeprefix("s3://").strip("/")
        self.s3fs_options = dict(s3fs or {})
        self.fs = s3fs_module.S3FileSystem(**self.s3fs_options)
        self._always_read = False

    def __repr__(self) -> str:
        return f"S3Storage('s3://{self.path}')"

    @property
    def always_read(self) -> bool:
        """Continue a workflow with the stored copy of each result (the seed's option)."""
        return self._always_read

    @always_read.setter
    def always_read(self, value: bool) -> None:
        self._always_read = bool(value)

    def _key(self, *parts: str) -> str:
        # Parts are already safe names (no '/', no '..'), so a key never leaves `path`.
        return posixpath.join(self.path, *parts)

    def _protocols_for(self, workflow: str, task: str) -> dict[str, Any]:
        protocols = super()._protocols_for(workflow, task)
        protocols[S3_PROTOCOL] = {
            "client": self.fs,
            "folder": self._key(workflow, _SIDE_DIR, task),  # both already safe names
        }
        return protocols

    def _create_workflow(self, w: str) -> None:
        # S3 has no folders; make sure the bucket is there, so errors come early.
        bucket = self.path.split("/", 1)[0]
        if not self.fs.exists(bucket):
            self.fs.mkdir(bucket)

    def _workflows(self) -> list[str]:
        if not self.fs.exists(self.path):
            return []
        return sorted(
            posixpath.basename(p.rstrip("/"))
            for p in self.fs.ls(self.path, detail=False, refresh=True)
            if self.fs.isdir(p) and not posixpath.basename(p.rstrip("/")).startswith(".")
        )

    def _write(self, w: str, t: str, blob: bytes) -> None:
        self.fs.pipe_file(self._key(w, t), bytes(blob))

    def _read(self, w: str, t: str) -> bytes:
        try:
            return bytes(self.fs.cat_file(self._key(w, t)))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"No result for task {t!r} of workflow {w!r} in {self!r}."
            ) from None

    def _names(self, w: str) -> list[str]:
        folder = self._key(w)
        self.fs.invalidate_cache(folder)
        if not self.fs.exists(folder):
            return []
        names = []
        for entry in self.fs.ls(folder, detail=True, refresh=True):
            name = posixpath.basename(entry["name"].rstrip("/"))
            if entry.get("type") == "file" and not name.startswith("."):
                names.append(name)
        return names

    def _delete(self, w: str, t: str) -> None:
        try:
            self.fs.rm_file(self._key(w, t))
        except FileNotFoundError:
            pass

    def _delete_workflow(self, w: str) -> None:
        folder = self._key(w)
        if self.fs.exists(folder):
            self.fs.rm(folder, recursive=True)
        self.fs.invalidate_cache(folder)

    def _side_write(self, w: str, t: str, name: str, data: bytes | bytearray | memoryview) -> None:
        self.fs.pipe_file(self._key(w, _SIDE_DIR, t, name), bytes(data))

    def _side_read(self, w: str, t: str, name: str) -> bytes:
        return bytes(self.fs.cat_file(self._key(w, _SIDE_DIR, t, name)))

    def _side_delete(self, w: str, t: str, name: str) -> None:
        try:
            self.fs.rm_file(self._key(w, _SIDE_DIR, t, name))
        except FileNotFoundError:
            pass

    def _side_delete_all(self, w: str, t: str) -> None:
        folder = self._key(w, _SIDE_DIR, t)
        if self.fs.exists(folder):
            self.fs.rm(folder, recursive=True)

"""Files that a later run reads, written so that a crash never loses them.

:func:`atomic_write` writes to a temporary file in the destination's folder
(``.NAME.tmpPID``), flushes and fsyncs it, ``os.replace``\\ s it onto the
destination and fsyncs the folder. A process killed or a disk filled at any
moment leaves either the old file or the new one, never a truncated mix;
the temporary file of a killed writer is removed by
:func:`remove_stale_temp_files` at the next start.

:class:`AtomicLocalBackend` is mmengine's ``LocalBackend`` with ``put`` /
``put_text`` going through :func:`atomic_write`; our
:class:`~fcos_mm.engine.hooks.CheckpointHook` saves through it.
"""
import glob
import os
import os.path as osp
from typing import Callable, List, Union

from mmengine.fileio.backends import LocalBackend, register_backend

TEMP_MARK = '.tmp'
ATOMIC_BACKEND = 'fcos_mm_atomic'


def temp_path_for(path: str) -> str:
    """The temporary name :func:`atomic_write` uses for ``path``: hidden,
    in the same folder (so ``os.replace`` stays on one file system), and
    with the writer's pid (two writers never share one)."""
    folder, name = osp.split(osp.abspath(path))
    return osp.join(folder, f'.{name}{TEMP_MARK}{os.getpid()}')


def _write(file, data: bytes) -> None:
    """Write ``data`` to the open ``file``; the one place bytes hit the disk
    (tests replace it by a writer that dies after N bytes)."""
    file.write(data)


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(data: Union[bytes, str], path: str) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring).

    Args:
        data (bytes or str): The whole content; str is encoded as UTF-8.
        path (str): The destination; its folder is created if needed.

    Raises:
        OSError: The write failed (e.g. ``ENOSPC``); the temporary file is
            removed and ``path`` is as it was before the call.
    """
    if isinstance(data, str):
        data = data.encode('utf-8')
    path = osp.abspath(path)
    os.makedirs(osp.dirname(path), exist_ok=True)
    temp = temp_path_for(path)
    try:
        with open(temp, 'wb') as f:
            _write(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if osp.exists(temp):
            os.remove(temp)
        raise
    _fsync_folder(osp.dirname(path))


def remove_stale_temp_files(folder: str,
                            log: Callable[[str], None] = print) -> List[str]:
    """Remove the temporary files that killed writers left in ``folder``.

    Only names :func:`temp_path_for` makes (``.NAME.tmpPID``) are touched.

    Returns:
        list[str]: The removed paths.
    """
    removed = []
    for path in sorted(glob.glob(osp.join(folder, f'.*{TEMP_MARK}*'))):
        pid = path.rsplit(TEMP_MARK, 1)[1]
        if not pid.isdigit() or not osp.isfile(path):
            continue
        os.remove(path)
        removed.append(path)
        log(f'Removed {path}, the unfinished write of a process that was '
            f'stopped while saving; the file it was replacing is intact.')
    return removed


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` and ``put_text``."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(obj, str(filepath))

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(obj.encode(encoding), str(filepath))


def register_atomic_backend() -> None:
    """Make ``backend_args=dict(backend='fcos_mm_atomic')`` available to
    mmengine's ``get_file_backend`` (idempotent)."""
    register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)

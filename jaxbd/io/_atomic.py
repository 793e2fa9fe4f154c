"""Atomic file writes: nothing half-written, no orphaned temp file, errors name the target.

Every file jaxbd writes (models, keys, the CLI's outputs, the report) goes through
[`write_atomic`][]:

1. the bytes are assembled in memory first (a failing serialiser touches no file);
2. they are written to an *anonymous* file in the target's directory (Linux `O_TMPFILE`: it
   has no name, so a process killed mid-write, even by SIGKILL, leaves nothing behind), created
   with the final permission bits (`0o600` for keys: never readable by others, not even briefly);
3. the file is fsync-ed, given a temporary name and moved over the target with `os.replace`,
   then the directory is fsync-ed;
4. on any failure the temporary file is removed and the previous target is untouched.

Where `O_TMPFILE` is not available the temporary file is named
`.<target>.<pid>.<random>.jaxbd-tmp`; one left by a killed process (its pid no longer running) is
removed by the next write to the same target. Two concurrent writers each write their own
temporary file; the target ends up as one of the two complete files, never a mix.
"""

import errno as _errno
import os


__all__ = ["write_atomic"]

_SUFFIX = ".jaxbd-tmp"


def _target_error(e: OSError, path: str) -> OSError:
    err = OSError(e.errno, e.strerror or str(e))
    err.filename = path
    return err


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_stale(directory: str, base: str) -> None:
    """Remove temp files of `base` left by processes that no longer run."""
    prefix = f".{base}."
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(_SUFFIX)):
            continue
        parts = name[len(prefix) : -len(_SUFFIX)].split(".")
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        if not _pid_alive(int(parts[0])):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.fsync(fd)


def _open_anonymous(directory: str, mode: int) -> int | None:
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as e:
        if e.errno in (_errno.EOPNOTSUPP, _errno.EISDIR, _errno.EINVAL, _errno.ENOENT):
            return None  # the filesystem has no anonymous files: use a named temp file
        raise


def write_atomic(path, data: bytes, *, mode: int = 0o666) -> str:
    """Write `data` to `path` atomically (see the module docstring for the guarantees).

    **Arguments:**

    - `path`: the target file; its directory must exist.
    - `data`: the complete file contents (`bytes`).
    - `mode`: permission bits of a new file before the umask (`0o600` for secrets); the file
      is created with them, never `chmod`-ed afterwards.

    **Returns:** `path` as a string. Raises `ValueError` when the directory does not exist and
    `OSError` naming `path` (not the temporary file) when the write fails.
    """
    path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise ValueError(f"`path` must be a file name, got {path!r}.")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"`data` must be bytes, got {type(data).__name__}.")
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    if not os.path.isdir(directory):
        raise ValueError(f"cannot write {path!r}: directory {directory!r} does not exist.")
    if os.path.isdir(path):
        raise ValueError(f"cannot write {path!r}: it is a directory.")
    _remove_stale(directory, base)
    tmp = os.path.join(directory, f".{base}.{os.getpid()}.{os.urandom(6).hex()}{_SUFFIX}")
    named = False
    try:
        fd = _open_anonymous(directory, mode)
        if fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
            fd = os.open(tmp, flags, mode)
            named = True
        try:
            _write_all(fd, bytes(data))
            if not named:  # give the anonymous file a name (linkat with AT_SYMLINK_FOLLOW)
                dfd = os.open(directory, os.O_RDONLY)
                try:
                    os.link(
                        f"/proc/self/fd/{fd}",
                        os.path.basename(tmp),
                        dst_dir_fd=dfd,
                        follow_symlinks=True,
                    )
                finally:
                    os.close(dfd)
                named = True
        finally:
            os.close(fd)
        os.replace(tmp, path)
        named = False
    except OSError as e:
        raise _target_error(e, path) from e
    finally:
        if named:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    try:  # make the rename durable; not possible on every platform
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
    return path

"""Untrusted media is parsed in a child process, never in the server.

A crafted file can make FFmpeg allocate gigabytes or spin for hours; inside the server that
would take the whole court down. So ``validate_sandboxed`` runs ``validate_file`` (and the
transcoder its playback copies) in ``python -m media.evidence.sandbox``, which, before it
opens the file:

- sets RLIMIT_AS (address space, ``SandboxLimits.memory_bytes``), RLIMIT_CPU, RLIMIT_FSIZE
  (0 for validation: it can write no file, its answer goes through a pipe; the size of a
  playback copy for the transcoder) and RLIMIT_CORE=0;
- leaves the network: it unshares its network namespace (``unshare(CLONE_NEWNET)``), which
  works where the server runs as root or may create user namespaces; where that is not
  permitted it goes on without (the demuxer is forced and limited to the ``file`` protocol
  anyway), and says which in its answer (``network_isolated``).

The parent kills it after ``wall_s``, reads one line of JSON (the media facts, or a refusal)
and turns a crash, a limit or a timeout into EvidenceRejected ("could not be read safely"),
never an error of the server."""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import EvidenceError, EvidenceRejected

CLONE_NEWNET = 0x40000000
_ROOT = Path(__file__).resolve().parents[2]  # where ``media`` is importable from
_MEMORY_EXIT = 3  # the child ran out of its address space


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int = 512 << 20  # address space of the child, PyAV and FFmpeg included
    cpu_s: int = 120  # CPU seconds: demuxing a 2 GiB file takes a fraction of this
    wall_s: float = 300.0  # then the parent kills it (a child blocked on I/O uses no CPU)
    file_bytes: int = 0  # largest file it may write


class SandboxFailed(EvidenceRejected):
    """The child died, hit a limit or ran out of time: the file is refused unread."""


def _unshare_network() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(CLONE_NEWNET) == 0
    except (OSError, AttributeError):
        return False


def _confine(limits: dict[str, Any]) -> bool:
    """In the child, first thing: the limits, then no network."""
    mem, cpu = int(limits["memory_bytes"]), int(limits["cpu_s"])
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    fsize = int(limits.get("file_bytes", 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return _unshare_network()


def _call(target: str, args: list[Any]) -> Any:
    module, _, name = target.partition(":")
    fn = getattr(__import__(module, fromlist=[name]), name)
    return fn(*args)


def _validate(path: str, limits: dict[str, Any]) -> dict[str, Any]:
    from .validate import ValidationLimits, validate_file
    return validate_file(Path(path), ValidationLimits(**limits)).to_json()


def main() -> None:
    """The child: one JSON request on stdin, one JSON answer as the last line on stdout
    (lines before it are the target's own messages, such as progress)."""
    request = json.loads(sys.stdin.readline())
    isolated = _confine(request["limits"])
    try:
        result = _call(request["target"], request["args"])
        answer: dict[str, Any] = {"ok": True, "result": result}
    except EvidenceError as e:
        answer = {"ok": False, "error": e.code, "message": e.message, "details": e.details}
    except MemoryError:
        os._exit(_MEMORY_EXIT)
    answer["network_isolated"] = isolated
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


def _spawn_args() -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1", "LANG": "C.UTF-8"}
    return dict(cwd=str(_ROOT), env=env, start_new_session=True)


_COMMAND = (sys.executable, "-E", "-s", "-m", "media.evidence.sandbox")


def _request(target: str, args: list[Any], limits: SandboxLimits) -> bytes:
    return json.dumps({"target": target, "args": args, "limits": asdict(limits)}).encode() + b"\n"


def _failure(rc: int | None, err: bytes) -> SandboxFailed:
    if rc == _MEMORY_EXIT or b"MemoryError" in err:
        why, what = "memory", "it needed more memory than any real recording does"
    elif rc in (-signal.SIGXCPU, -signal.SIGKILL):
        why, what = "cpu", "it needed more processor time than any real recording does"
    else:
        why, what = f"exit {rc}", "the reader stopped on it"
    return SandboxFailed(f"The file could not be read safely: {what} (the file is damaged or "
                         f"crafted).", kind="unsafe", reason=why)


def _timeout(limits: SandboxLimits) -> SandboxFailed:
    return SandboxFailed(f"The file could not be read safely: reading it took more than "
                         f"{limits.wall_s:g} s.", kind="unsafe", reason="timeout")


def run_sandboxed_sync(target: str, args: list[Any], limits: SandboxLimits,
                       on_message: Callable[[dict[str, Any]], None] | None = None,
                       on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
                       ) -> dict[str, Any]:
    """``run_sandboxed`` for a worker thread: the child's messages before its answer go to
    ``on_message``; ``on_start`` gets the process, to kill it when the work is cancelled."""
    proc = subprocess.Popen(_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, **_spawn_args())
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        proc.kill()
    timer = threading.Timer(limits.wall_s, expire)
    timer.start()
    answer = None
    try:
        if on_start is not None:
            on_start(proc)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(_request(target, args, limits))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        for line in proc.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "ok" in message:
                answer = message
            elif on_message is not None:
                on_message(message)
        rc = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if answer is not None:
        return answer
    raise _timeout(limits) if timed_out.is_set() else _failure(rc, b"")


async def run_sandboxed(target: str, args: list[Any],
                        limits: SandboxLimits = SandboxLimits()) -> dict[str, Any]:
    """Call ``module:function`` with JSON ``args`` in a confined child; its JSON answer
    (``ok`` with ``result``, or a refusal with ``message``). Raises SandboxFailed when the
    child does not answer."""
    proc = await asyncio.create_subprocess_exec(
        *_COMMAND, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, **_spawn_args())
    try:
        out, err = await asyncio.wait_for(proc.communicate(_request(target, args, limits)),
                                          limits.wall_s)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        if asyncio.current_task().cancelling():  # type: ignore[union-attr]
            raise
        raise _timeout(limits) from None
    try:
        return json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise _failure(proc.returncode, err) from None


async def validate_sandboxed(path: Path, limits: Any,
                             sandbox: SandboxLimits = SandboxLimits()) -> Any:
    """``validate_file`` in a confined child: its MediaInfo, or EvidenceRejected."""
    from .probe import MediaInfo
    answer = await run_sandboxed("media.evidence.sandbox:_validate",
                                 [str(path), asdict(limits)], sandbox)
    if not answer["ok"]:
        raise EvidenceRejected(answer["message"], **answer.get("details", {}))
    return MediaInfo.from_json(answer["result"])


if __name__ == "__main__":
    main()

"""Incremental Silero VAD (the ONNX model faster-whisper ships) over 32 ms frames.

faster-whisper runs Silero over a whole file at once; a live source needs the same model fed
frame by frame with its recurrent state carried between calls, so each stream owns a
``StreamingVad`` and pushes whatever audio arrived since the last call."""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass

import numpy as np
import onnxruntime
from faster_whisper.utils import get_assets_path

FRAME = 512  # samples per VAD frame (32 ms at 16 kHz), what Silero v5/v6 expects
CONTEXT = 64  # samples of the previous frame Silero sees before each frame
FRAME_MS = 32


@dataclass(frozen=True)
class VadOptions:
    """Speech gating. Defaults follow Silero's recommendations for 16 kHz speech."""

    onset: float = 0.5  # a frame at or above this probability is speech
    offset: float = 0.35  # speech continues until frames fall below this
    min_speech_ms: int = 160  # this much speech opens an utterance (clicks and taps don't)
    end_silence_ms: int = 500  # this much silence closes an utterance
    pre_roll_ms: int = 256  # audio kept before the detected start (soft onsets)


@functools.lru_cache(maxsize=1)
def _session() -> onnxruntime.InferenceSession:
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 4
    path = os.path.join(get_assets_path(), "silero_vad_v6.onnx")
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"],
                                        sess_options=opts)


_run_lock = threading.Lock()


class StreamingVad:
    """Speech probability per 32 ms frame, carrying Silero's state across calls."""

    def __init__(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def reset(self) -> None:
        self.__init__()

    def probabilities(self, frames: np.ndarray) -> np.ndarray:
        """``frames``: float32 of a whole number of 512-sample frames, continuing the audio
        of the previous call. Returns one probability per frame."""
        if len(frames) == 0:
            return np.zeros(0, dtype=np.float32)
        if len(frames) % FRAME:
            raise ValueError("VAD input must be a whole number of 512-sample frames")
        batch = frames.reshape(-1, FRAME)
        context = np.concatenate([self._context[None, :], batch[:-1, -CONTEXT:]], axis=0)
        x = np.ascontiguousarray(np.concatenate([context, batch], axis=1), dtype=np.float32)
        with _run_lock:  # one ONNX session shared by all streams
            out, self._h, self._c = _session().run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = batch[-1, -CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(-1)

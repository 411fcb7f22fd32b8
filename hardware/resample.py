"""Per-channel resampling of a device's blocks to the 16 kHz mono the audio contract asks for.

libswresample (through PyAV) does the filtering in C and keeps its state between blocks, so a
channel's audio has no seams at block edges; one resampler per channel because interfaces have
channel counts (12, 16, 32) that no FFmpeg channel layout describes."""

from __future__ import annotations

import av
import numpy as np

from media.audio import SAMPLE_RATE


class ChannelResampler:
    def __init__(self, channels: int, in_rate: int, out_rate: int = SAMPLE_RATE) -> None:
        self.channels, self.in_rate, self.out_rate = channels, in_rate, out_rate
        self._rs = None if in_rate == out_rate else [
            av.AudioResampler(format="flt", layout="mono", rate=out_rate) for _ in range(channels)]

    def process(self, block: np.ndarray) -> np.ndarray:
        """float32 (channels, n) at in_rate -> float32 (channels, m) at out_rate."""
        if self._rs is None:
            return np.ascontiguousarray(block, dtype=np.float32)
        outs = []
        for c, rs in enumerate(self._rs):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(block[c:c + 1], dtype=np.float32), format="flt", layout="mono")
            frame.sample_rate = self.in_rate
            got = [f.to_ndarray()[0] for f in rs.resample(frame)]
            outs.append(np.concatenate(got) if got else np.zeros(0, np.float32))
        n = min(len(o) for o in outs)
        return np.stack([o[:n] for o in outs]).astype(np.float32, copy=False)

    def flush(self) -> np.ndarray:
        """What the filters still hold at the end of a stream."""
        if self._rs is None:
            return np.zeros((self.channels, 0), np.float32)
        outs = []
        for rs in self._rs:
            got = [f.to_ndarray()[0] for f in rs.resample(None)]
            outs.append(np.concatenate(got) if got else np.zeros(0, np.float32))
        n = min(len(o) for o in outs)
        return np.stack([o[:n] for o in outs]).astype(np.float32, copy=False)

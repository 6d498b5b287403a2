"""Settings: defaults, parsing, and one readable line for a bad value."""

from __future__ import annotations

import pytest

from shared.cli import main
from shared.face_analysis.packs import DEFAULT_PACK
from shared.settings import Settings, SettingsError


def test_defaults_need_no_configuration() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert settings.model_pack == DEFAULT_PACK == "yunet-reid256"
    assert settings.det_size == (1280, 1280)
    assert settings.min_cluster_size is None  # chosen per embedding model by the clustering code


def test_values_are_parsed() -> None:
    settings = Settings.from_env({"DET_SIZE": "640x480", "DETECTION_THRESHOLD": "0.7", "CLUSTER_EPSILON": "0.2",
                                  "CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example"})
    assert settings.det_size == (640, 480)
    assert settings.detection_threshold == 0.7
    assert settings.cluster_epsilon == 0.2
    assert settings.cors_allowed_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(("env", "message"), [
    ({"DETECTION_THRESHOLD": "high"}, "DETECTION_THRESHOLD='high' is invalid: expected a number in [0, 1]"),
    ({"DETECTION_THRESHOLD": "1.5"}, "DETECTION_THRESHOLD='1.5' is invalid: expected a number in [0, 1]"),
    ({"DET_SIZE": "640x"}, "DET_SIZE='640x' is invalid: expected N or WxH"),
    ({"MIN_CLUSTER_SIZE": "1"}, "MIN_CLUSTER_SIZE='1' is invalid: expected an integer >= 2"),
    ({"CLUSTER_RUNNER": "k8s"}, "CLUSTER_RUNNER='k8s' is invalid: expected local | cloud-run"),
    ({"SELFIE_RATE_LIMIT_PER_MINUTE": "0"},
     "SELFIE_RATE_LIMIT_PER_MINUTE='0' is invalid: expected an integer (expected a value >= 1)"),
])
def test_bad_values_name_the_variable_and_the_expected_form(env: dict, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_require_lists_every_missing_variable() -> None:
    with pytest.raises(SettingsError, match=r"^missing required configuration: CALLBACK_URL \(.*\), CALLBACK_SECRET"):
        Settings.from_env({}).require("CALLBACK_URL", "CALLBACK_SECRET")


def test_cli_prints_one_line_and_exits_2_on_bad_configuration(monkeypatch, capsys) -> None:
    monkeypatch.setenv("DET_SIZE", "big")
    monkeypatch.setenv("DATABASE_URL", "postgresql://unused")
    assert main(["db", "url"]) == 2
    assert capsys.readouterr().err.strip() == (
        "facecluster: configuration error: DET_SIZE='big' is invalid: expected N or WxH "
        "(invalid literal for int() with base 10: 'big')")

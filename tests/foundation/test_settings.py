"""Settings: defaults, parsing, one readable line for a bad value, and start-up refusing one."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import functions_framework
import pytest

from functions.main import TARGETS
from jobs import cluster_event
from shared.cli import main
from shared.face_analysis.packs import DEFAULT_PACK
from shared.settings import REPO_ROOT, Settings, SettingsError, get_settings

BAD_DET_SIZE = "DET_SIZE='big' is invalid: expected N or WxH (invalid literal for int() with base 10: 'big')"


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
    assert capsys.readouterr().err.strip() == f"facecluster: configuration error: {BAD_DET_SIZE}"


def test_blank_is_unset_and_only_the_upper_case_names_are_read() -> None:
    settings = Settings.from_env({"DET_SIZE": "  ", "MIN_FACE_SIZE": "", "model_pack": "buffalo_l",
                                  "JOB_MAX_ATTEMPTS": " 7 "})
    assert settings.det_size == (1280, 1280) and settings.min_face_size == 20
    assert settings.model_pack == DEFAULT_PACK
    assert settings.job_max_attempts == 7


def test_a_dotenv_file_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("DET_SIZE=big\nMODEL_PACK=buffalo_l\n")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).model_pack == DEFAULT_PACK


def test_get_settings_follows_the_environment_without_a_cache_to_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIN_FACE_SIZE", "33")
    first = get_settings()
    assert first.min_face_size == 33 and get_settings() is first   # unchanged environment: not parsed again
    monkeypatch.setenv("MIN_FACE_SIZE", "44")
    assert get_settings().min_face_size == 44
    monkeypatch.setenv("MIN_FACE_SIZE", "0")
    with pytest.raises(SettingsError) as error:
        get_settings()
    assert str(error.value) == "MIN_FACE_SIZE='0' is invalid: expected pixels (expected a value >= 1)"


@pytest.mark.parametrize("target", TARGETS)
def test_every_target_refuses_to_start_on_bad_configuration(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """At import, as functions-framework loads it: not at its first request."""
    monkeypatch.setenv("DET_SIZE", "big")
    monkeypatch.delitem(sys.modules, f"functions.{target}", raising=False)   # imported afresh, as in a new process
    with pytest.raises(SettingsError) as error:
        functions_framework.create_app(target=target, source=str(REPO_ROOT / "functions" / "main.py"))
    assert str(error.value) == BAD_DET_SIZE


def test_the_clustering_job_refuses_to_start_on_bad_configuration(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DET_SIZE", "big")
    assert cluster_event.main(["--event-id", str(uuid.uuid4())]) == 2
    assert capsys.readouterr().err.strip() == f"cluster_event: configuration error: {BAD_DET_SIZE}"

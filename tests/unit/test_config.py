from pathlib import Path

import pytest
from pydantic import ValidationError

from switchboard.config import EngineSettings, OrdersSettings, Settings

pytestmark = pytest.mark.unit


def test_env_overrides_nested_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWITCHBOARD_ENGINE__MAX_NUM_SEQS", "8")
    monkeypatch.setenv("SWITCHBOARD_SERVER__PORT", "9000")
    settings = Settings()
    assert settings.engine.max_num_seqs == 8
    assert settings.server.port == 9000
    assert settings.engine.kv_cells == 8 * settings.engine.max_model_len


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "sb.toml"
    config.write_text('model = "qwen2.5-0.5b"\n[engine]\nmax_model_len = 512\nmax_num_seqs = 2\n')
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(config))
    monkeypatch.setenv("SWITCHBOARD_ENGINE__MAX_NUM_SEQS", "4")
    settings = Settings()
    assert settings.model == "qwen2.5-0.5b"
    assert settings.engine.max_model_len == 512
    assert settings.engine.max_num_seqs == 4


def test_unified_pool_size_is_validated() -> None:
    assert EngineSettings(kv_unified=True, kv_cache_tokens=4096).kv_cells == 4096
    with pytest.raises(ValidationError, match="kv_unified"):
        EngineSettings(kv_cache_tokens=4096)
    with pytest.raises(ValidationError, match="smaller than max_model_len"):
        EngineSettings(kv_unified=True, kv_cache_tokens=100, max_model_len=1024)


def test_unknown_setting_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "sb.toml"
    config.write_text("modle = 'typo'\n")
    monkeypatch.setenv("SWITCHBOARD_CONFIG", str(config))
    with pytest.raises(ValidationError, match="modle"):
        Settings()


def test_unknown_pii_types_in_the_settings_are_refused() -> None:
    from switchboard.config import PiiSettings

    with pytest.raises(ValidationError, match="unknown PII entity types \\['EMAIL'\\]"):
        PiiSettings(entities=["PERSON", "EMAIL"])
    assert PiiSettings(entities=["EMAIL_ADDRESS"]).entities == ["EMAIL_ADDRESS"]


def test_the_order_api_port_is_chosen_at_start_unless_it_runs_on_its_own() -> None:
    assert OrdersSettings().port == 0  # `switchboard serve` takes a free one
    assert OrdersSettings(start_with_server=False, port=8001).port == 8001
    with pytest.raises(ValidationError, match=r"orders\.port must name the Order API's port"):
        OrdersSettings(start_with_server=False)


def test_prefix_cache_cells_are_bounded_by_the_kv_cache_and_zero_when_off() -> None:
    assert EngineSettings(max_num_seqs=4, max_model_len=256).prefix_cache_cells == 1024
    assert EngineSettings(prefix_cache_tokens=300).prefix_cache_cells == 300
    assert EngineSettings(max_num_seqs=1, prefix_cache_tokens=10**6).prefix_cache_cells == 1024
    assert EngineSettings(prefix_cache=False).prefix_cache_cells == 0
    with pytest.raises(ValidationError, match="prefix_cache_tokens"):
        EngineSettings(prefix_cache_tokens=0)

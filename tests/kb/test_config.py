import pytest

from backend.kb.config import KbConfigError, kb_settings_from_section, load_kb_settings
from backend.policy.model import load_policy


def test_the_policy_kb_section_is_valid() -> None:
    settings = kb_settings_from_section(load_policy().kb)
    assert settings == load_kb_settings()
    assert settings.search_kinds == ["article"]


def test_a_bad_value_names_its_key() -> None:
    with pytest.raises(KbConfigError, match=r"kb\.weights\.passage"):
        kb_settings_from_section({"weights": {"passage": -1}})
    with pytest.raises(KbConfigError, match=r"kb\.unknown_key"):
        kb_settings_from_section({"unknown_key": 1})

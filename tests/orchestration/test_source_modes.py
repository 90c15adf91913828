"""Each source's mode: its own variable, else SOURCES_MODE, else the profile's default."""

import pytest

from orchestration import profiles
from orchestration.resources.ads import AdEventsError, AdEventsResource

# The per-source variable -> the resource it sets.
SOURCES = {
    "OPENAQ_MODE": "openaq",
    "RANDOMUSER_MODE": "randomuser",
    "ADS_EVENTS_MODE": "ads",
    "LANDING_MODE": "landing",
}
OTHER = {"sample": "live", "live": "sample"}


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for name in (*SOURCES, "SOURCES_MODE", "ADS_EVENTS_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def modes(profile: str) -> dict[str, str]:
    resources = profiles.resources_for(profile)
    return {key: resources[key].mode for key in SOURCES.values()}


@pytest.mark.parametrize(("profile", "default"), [("local", "sample"), ("prod", "live")])
def test_every_source_defaults_to_the_profile_s_mode(env, profile, default):
    assert modes(profile) == dict.fromkeys(SOURCES.values(), default)


@pytest.mark.parametrize("profile", ["local", "prod"])
@pytest.mark.parametrize("sources_mode", ["sample", "live"])
@pytest.mark.parametrize("variable", list(SOURCES))
def test_a_source_s_own_variable_overrides_sources_mode(env, profile, sources_mode, variable):
    env.setenv("SOURCES_MODE", sources_mode)
    env.setenv(variable, OTHER[sources_mode])
    expected = dict.fromkeys(SOURCES.values(), sources_mode) | {SOURCES[variable]: OTHER[sources_mode]}
    assert modes(profile) == expected


@pytest.mark.parametrize("profile", ["local", "prod"])
def test_each_source_set_on_its_own_without_sources_mode(env, profile):
    default = "sample" if profile == "local" else "live"
    env.setenv("OPENAQ_MODE", OTHER[default])
    env.setenv("LANDING_MODE", OTHER[default])
    assert modes(profile) == {
        "openaq": OTHER[default],
        "randomuser": default,
        "ads": default,
        "landing": OTHER[default],
    }


@pytest.mark.parametrize("variable", [*SOURCES, "SOURCES_MODE"])
@pytest.mark.parametrize("value", ["lve", "files", "LIVE"])
def test_an_invalid_mode_fails_naming_its_variable(env, variable, value):
    env.setenv(variable, value)
    with pytest.raises(ValueError, match=rf"^{variable} must be one of \('sample', 'live'\), got '{value}'$"):
        profiles.resources_for("local")


def test_a_source_with_its_own_variable_does_not_read_sources_mode(env):
    env.setenv("SOURCES_MODE", "sampel")
    env.setenv("OPENAQ_MODE", "live")
    assert profiles.openaq_resource(default_mode="sample").mode == "live"
    with pytest.raises(ValueError, match="^SOURCES_MODE must be one of"):
        profiles.randomuser_resource(default_mode="sample")


def test_a_live_ad_source_without_url_is_a_skip_with_its_reason():
    assert AdEventsResource(mode="live").skip_reason() == "ADS_EVENTS_URL is not set"
    assert AdEventsResource(mode="live", url="http://ads.invalid/export").skip_reason() is None
    assert AdEventsResource(mode="sample").skip_reason() is None
    with pytest.raises(AdEventsError, match='mode must be "sample" or "live"'):
        AdEventsResource(mode="replay").skip_reason()


def test_the_profile_passes_ads_events_url_to_the_live_source(env):
    env.setenv("ADS_EVENTS_MODE", "live")
    env.setenv("ADS_EVENTS_URL", "http://ads.invalid/export")
    ads = profiles.resources_for("local")["ads"]
    assert (ads.mode, ads.url, ads.skip_reason()) == ("live", "http://ads.invalid/export", None)

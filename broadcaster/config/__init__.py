"""The project's configuration: schedule.toml read, checked and turned into frozen dataclasses.

``model`` holds what a configuration is, ``schema`` the checks of each key, ``slots``
the zones, slots and daemon tables, ``loader`` reads a file into a ``Config``.
"""

from broadcaster.config.loader import DEFAULT_NAME, ENV_VAR, find_config, load_config, load_voice_settings
from broadcaster.config.fleet import programme_path
from broadcaster.config.model import (AUTO_ENGINES, FIRST_DAY, FORMATS, HUB_SLOTS, LAST_DAY, ORIGIN_WORDS, PRIORITIES,
                                      PRIORITY_WORDS, AudioSettings, Bulletin, Config, FleetSettings, Paths, Slot, Source,
                                      TTSSettings, Zone, day_in_range, display_path)
from broadcaster.config.schema import AUDIO_SUFFIXES

__all__ = ["AUDIO_SUFFIXES", "AUTO_ENGINES", "FIRST_DAY", "LAST_DAY", "day_in_range", "HUB_SLOTS", "FleetSettings", "ORIGIN_WORDS", "programme_path", "DEFAULT_NAME", "ENV_VAR", "FORMATS", "PRIORITIES", "PRIORITY_WORDS", "AudioSettings",
           "Bulletin", "Config", "Paths", "Slot", "Source", "TTSSettings", "Zone", "display_path", "find_config", "load_config", "load_voice_settings"]

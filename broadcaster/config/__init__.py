"""The project's configuration: schedule.toml read, checked and turned into frozen dataclasses.

``model`` holds what a configuration is, ``schema`` the checks of each key, ``slots``
the zones, slots and daemon tables, ``loader`` reads a file into a ``Config``.
"""

from broadcaster.config.loader import DEFAULT_NAME, ENV_VAR, find_config, load_config
from broadcaster.config.model import (AUTO_ENGINES, FORMATS, PRIORITIES, PRIORITY_WORDS, AudioSettings, Bulletin,
                                      Config, Paths, Slot, TTSSettings, Zone, display_path)

__all__ = ["AUTO_ENGINES", "DEFAULT_NAME", "ENV_VAR", "FORMATS", "PRIORITIES", "PRIORITY_WORDS", "AudioSettings",
           "Bulletin", "Config", "Paths", "Slot", "TTSSettings", "Zone", "display_path", "find_config", "load_config"]

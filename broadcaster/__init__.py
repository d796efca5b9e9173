"""broadcaster: public announcements on the air in Vietnamese districts and communes."""

__version__ = "0.1.0"

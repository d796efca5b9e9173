"""broadcaster: public announcements on the air on Vietnam's loudspeaker networks: provinces, communes and their villages' clusters."""

import os

# One BLAS thread: its matrix products here are small, and OpenBLAS's idle threads spin, taking the
# core an MP3 encoder or the other zone's player needs (a 60-minute render measured 35 s, not 45).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"

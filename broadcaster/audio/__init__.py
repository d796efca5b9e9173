"""Sound as arrays and files: decoding and encoding, loudness, assembling a bulletin, and the
player that streams a file to a sound output on the exact instant."""

"""Making a bulletin's audio: speech from the engines through the sentence cache, assembled with
jingles, loudness-normalised and written atomically with its sidecar."""

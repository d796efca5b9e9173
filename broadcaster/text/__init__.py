"""Reading an editor's text: scripts (encodings, notes, paragraphs, sentences), legacy Vietnamese
encodings, and the normaliser that turns written Vietnamese into the words to speak."""

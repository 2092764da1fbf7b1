"""The intake pipeline: store raw mail, then turn each stored email into exactly one outcome."""

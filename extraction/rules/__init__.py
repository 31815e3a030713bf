"""The offline, deterministic extractor: provider templates plus a generic label reader."""

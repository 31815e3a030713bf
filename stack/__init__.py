"""The local stack: processes MiniMeter starts for itself when nothing is configured."""

"""The vocabulary MiniMeter's API, worker and activities share: settings, models, clients."""

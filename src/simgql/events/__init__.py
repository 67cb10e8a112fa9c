"""Live events: the broadcast bus in front of broadcaster, and the per-process fan-out hub."""

"""jukicard.cli."""

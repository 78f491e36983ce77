"""jukicard.services."""

"""jukicard.card."""

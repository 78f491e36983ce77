"""jukicard.operator."""

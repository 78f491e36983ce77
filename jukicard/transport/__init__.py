"""jukicard.transport."""

"""jukicard.pki."""

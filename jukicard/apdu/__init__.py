"""jukicard.apdu."""

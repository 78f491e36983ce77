"""jukicard.emulator."""

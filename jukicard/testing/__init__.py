"""jukicard.testing."""

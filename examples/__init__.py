"""Runnable examples of rvoip-sansio (``python -m examples.voice_bot --help``)."""

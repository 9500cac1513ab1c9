"""``python -m examples.voice_bot [--adapter asyncio|trio|blocking] ...``: run the voice bot."""

from .options import cli

if __name__ == "__main__":
    cli()

"""``python -m examples.voice_bot [--adapter asyncio|trio|blocking] ...``: run the voice bot."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from .options import parse_args


def main(argv: Sequence[str] | None = None) -> None:
    adapter, options = parse_args(argv)
    if adapter == "trio":
        from .run_trio import serve
    elif adapter == "blocking":
        from .run_blocking import serve
    else:
        from .run_asyncio import serve
    with contextlib.suppress(KeyboardInterrupt):
        serve(options, ready=lambda a: print(f"voice bot ({adapter}) on sip:{options.user}@{a[0]}:{a[1]}",
                                             flush=True))


if __name__ == "__main__":
    main()

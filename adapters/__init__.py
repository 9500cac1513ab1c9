"""I/O adapters: asyncio, trio, blocking sockets, audio, and the rvoip command."""

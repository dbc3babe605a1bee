"""kit's benchmark: kit against the docs' pattern and hand-written asyncio, side by side."""

"""Command-line tools (``clt-devices``). The top layer: may import any part of clt."""

"""Parameter initialisation (``clt.nn.init``); filled in by the nn layers work."""

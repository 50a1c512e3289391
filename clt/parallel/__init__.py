"""Data parallelism over several devices in one process (``DataParallel``)."""
from clt.parallel.data_parallel import (Balancer, DataParallel, broadcast_arrays, gather,
                                        replicate, scatter)

__all__ = ["Balancer", "DataParallel", "broadcast_arrays", "gather", "replicate", "scatter"]

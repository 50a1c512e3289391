"""clt as an array API standard namespace (2023.12 revision, with ``linalg`` and ``fft``).

``x.__array_namespace__()`` returns this module for any :class:`clt.Tensor`, so libraries
written against the standard (scikit-learn with ``array_api_dispatch=True``, SciPy,
array-api-compat users) run on OpenCL devices::

    import clt.array_api as xp

    x = xp.asarray([[1.0, 2.0], [3.0, 4.0]])
    xp.linalg.vector_norm(x, axis=1)

The arrays *are* clt tensors: functions here are thin wrappers over :mod:`clt.functions` and
:mod:`clt.ops` (the same kernels) that follow the standard where it differs from PyTorch:
type promotion ignores array rank, ``var``/``std`` default to ``correction=0``, ``axis=()``
reduces nothing, ``asarray``/``reshape`` honour ``copy=``, and so on. The deliberate
deviations (no complex or wide unsigned dtypes, ``x.size`` a method, host-path
decompositions...) are listed in the documentation page "Array API".
"""
from __future__ import annotations

import math as _math

from clt.array_api import fft, linalg  # noqa: F401
from clt.array_api._array import SUPPORTED_VERSIONS as _SUPPORTED_VERSIONS  # noqa: F401
from clt.array_api._creation import (arange, asarray, empty, empty_like, eye, from_dlpack, full,
                                     full_like, linspace, meshgrid, ones, ones_like, tril, triu,
                                     zeros, zeros_like)
from clt.array_api._dtypes import (astype, bool, can_cast, finfo, float16, float32,  # noqa: A004
                                   float64, iinfo, int8, int16, int32, int64, isdtype,
                                   result_type, uint8)
from clt.array_api._elementwise import *  # noqa: F401,F403
from clt.array_api._elementwise import __all__ as _elementwise_names
from clt.array_api._helpers import broadcast_shapes  # noqa: F401
from clt.array_api._info import __array_namespace_info__  # noqa: F401
from clt.array_api._linear_algebra import matmul, matrix_transpose, tensordot, vecdot
from clt.array_api._manipulation import (broadcast_arrays, broadcast_to, concat, expand_dims,
                                         flip, moveaxis, permute_dims, repeat, reshape, roll,
                                         squeeze, stack, tile, unstack)
from clt.array_api._searching import (argmax, argmin, argsort, nonzero, searchsorted, sort,
                                      take, take_along_axis, unique_all, unique_counts,
                                      unique_inverse, unique_values, where)
from clt.array_api._statistics import (all, any, count_nonzero, cumulative_prod,  # noqa: A004
                                       cumulative_sum, max, mean, min, prod, std, sum, var)
from clt.tensor import Tensor as Array  # noqa: F401  (the array type, for annotations)

__array_api_version__ = "2023.12"

e = _math.e
inf = _math.inf
nan = _math.nan
pi = _math.pi
newaxis = None

__all__ = [
    "__array_api_version__", "__array_namespace_info__", "e", "inf", "nan", "pi", "newaxis",
    # dtypes and dtype functions
    "bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64",
    "astype", "can_cast", "finfo", "iinfo", "isdtype", "result_type",
    # creation
    "arange", "asarray", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like",
    "linspace", "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like",
    # linear algebra
    "matmul", "matrix_transpose", "tensordot", "vecdot",
    # manipulation
    "broadcast_arrays", "broadcast_shapes", "broadcast_to", "concat", "expand_dims", "flip",
    "moveaxis", "permute_dims", "repeat", "reshape", "roll", "squeeze", "stack", "tile",
    "unstack",
    # searching, sorting, sets, indexing
    "argmax", "argmin", "nonzero", "searchsorted", "where", "argsort", "sort", "unique_all",
    "unique_counts", "unique_inverse", "unique_values", "take", "take_along_axis",
    # statistics and utilities
    "cumulative_sum", "cumulative_prod", "max", "mean", "min", "prod", "std", "sum", "var",
    "all", "any", "count_nonzero",
    # extensions
    "linalg", "fft",
]
__all__ += _elementwise_names

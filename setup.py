"""Packaging glue that setup.cfg cannot express: ship the top-level ``kernels/`` folder.

The Mako templates live in ``kernels/`` at the top of the repository (the design card), and are
installed into wheels as the package ``clt._kernels``. An editable install or a plain checkout finds
them in place (see ``clt.backend.program.find_kernel_dir``).
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["clt", "clt.*"]) + ["clt._kernels"],
    package_dir={"clt._kernels": "kernels"},
    package_data={"clt._kernels": ["*.cl.mako"]},
)

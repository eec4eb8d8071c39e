"""The build's one part that pyproject.toml cannot say: the optional C accelerator
(libclarifai/_speedups.c). Without a C compiler or Python's headers it is left out and the
binding makes its objects in Python, with the same results."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("libclarifai._speedups", ["libclarifai/_speedups.c"], optional=True)])

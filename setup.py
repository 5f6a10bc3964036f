"""What pyproject.toml cannot say: the packages, found rather than listed, so that every folder of
apps/ ships as nnkit.apps.<task> (and every subpackage of nnkit/) without an edit here."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["nnkit", "nnkit.*"]), "nnkit.configs", "nnkit.apps",
                *(f"nnkit.apps.{name}" for name in find_packages("apps"))])

"""For ``scrapyd-deploy`` only: it builds the egg with ``setup.py bdist_egg`` and, when this
file is missing, writes one of its own into the checkout. Everything is in ``pyproject.toml``
(the ``scrapy`` entry point Scrapyd reads included)."""

from setuptools import setup

setup()

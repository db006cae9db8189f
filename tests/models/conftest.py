"""Fixtures of the model layer's tests."""

import os

import pytest


@pytest.fixture
def open_umask():
    """The most permissive umask, so that only the code's own modes can keep files private."""
    previous = os.umask(0)
    yield
    os.umask(previous)

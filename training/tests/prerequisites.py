"""What a training test needs beyond PyTorch, and the rule when it is missing (the same as test/helpers/prerequisites.ts):
outside CI the test skips with one line saying what to install; with CI=true the test fails, because .ci/run installs
it and a test that skips in CI can no longer see failures."""
from __future__ import annotations

import importlib.util
import os
import unittest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_module(test: unittest.TestCase, module: str, debian_package: str) -> None:
    """Skip `test` (fail it under CI=true) unless Python can import `module`."""
    if importlib.util.find_spec(module) is not None:
        return
    message = f"python module {module} not found — apt-get install -y {debian_package}"
    if IN_CI:
        test.fail(f"{message} (CI=true, and .ci/run installs it)")
    test.skipTest(message)

#!/usr/bin/env python3
"""Print what the locked environment holds, as JSON (Amun's scripts print their result)."""

import json
import sys
from importlib import metadata

import six

print(
    json.dumps(
        {
            "six": six.__version__,
            "installed": metadata.version("six"),
            "in_venv": sys.prefix != sys.base_prefix,
            "python": sys.version.split()[0],
        }
    )
)

"""The OpenAPI document, exported from the app: `python -m services.api.openapi [--check] [PATH]`.

openapi.json at the root is committed and the Python client in clients/python is generated
from it (`make client`); tests/unit/test_openapi.py fails when the app and the file differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from services.api.app import create_app
from shared.config import get_settings

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "openapi.json"


def document() -> dict[str, Any]:
    """The app's OpenAPI document (no engine is made: the lifespan does not run)."""
    return create_app(get_settings()).openapi()


def render(doc: dict[str, Any]) -> str:
    """Stable text: the order FastAPI gives, two-space indents, a final newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs")
    args = parser.parse_args(argv)
    text = render(document())
    if args.check:
        current = args.path.read_text() if args.path.exists() else ""
        if current != text:
            print(f"{args.path} differs from the app's document; run `make openapi`")
            return 1
        return 0
    args.path.write_text(text)
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

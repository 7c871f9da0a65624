"""Run the fake upstream standalone: `python -m tests.fake_upstream --port 8765`.

Useful when the app under test runs in another process (browser tests, a dev server):
point a provider's base URL at it and script it with `POST /_fake/script`.
"""

from __future__ import annotations

import argparse
import threading

from tests.fake_upstream.server import FakeUpstream


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    fake = FakeUpstream(host=args.host, port=args.port).start()
    print(f"fake upstream listening on {fake.url}", flush=True)
    for kind in ("openai", "anthropic", "gemini"):
        print(f"  {kind:<10} base_url = {fake.base_url(kind)}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()

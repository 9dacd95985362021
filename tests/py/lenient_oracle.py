"""A lenient reader of client frames, as the Python SDK's stdio server reads
them: the oracle of the gate's fuzz test.

Reads one hex-encoded frame per line on stdin and answers one line: `1` if
some message in it is a call the test policy denies, else `0`. A frame is
decoded as UTF-8 with replacement characters, split at `\\r`, `\\r\\n` and
`\\n` (universal newlines), and each piece parsed with `json.loads(...,
strict=False)` (NaN, Infinity, control characters in strings all pass).

The policy: `danger` is denied; `write` is denied when its `path` argument
matches `^/etc` (strings as they are, other values as their JSON text).
"""

import json
import re
import sys


def denied(message) -> bool:
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return False
    params = message.get("params")
    if not isinstance(params, dict):
        return False
    name, args = params.get("name"), params.get("arguments")
    if name == "danger":
        return True
    if name == "write" and isinstance(args, dict) and "path" in args:
        path = args["path"]
        text = path if isinstance(path, str) else json.dumps(path)
        return re.search(r"^/etc", text) is not None
    return False


def pieces(text: str):
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


for line in sys.stdin:
    frame = bytes.fromhex(line.strip()).decode("utf-8", errors="replace")
    found = False
    for piece in pieces(frame):
        try:
            value = json.loads(piece, strict=False)
        except Exception:  # a parse error or RecursionError: not a message
            continue
        messages = value if isinstance(value, list) else [value]
        found = found or any(denied(m) for m in messages)
    sys.stdout.write("1\n" if found else "0\n")
    sys.stdout.flush()

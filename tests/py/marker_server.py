"""An MCP server on the official Python SDK whose tools leave marks.

Usage: marker_server.py MARKER_FILE

Tools: `echo` returns its `message`; `danger` and `write` append one line to
MARKER_FILE (`danger`, or `write <path>`) before answering. A policy test
denies `danger` by name and `write` by an argument rule, then checks that
MARKER_FILE never got a line it should not have.
"""

import sys
from typing import Any

from mcp.server.mcpserver import MCPServer

MARKER = sys.argv[1]
server = MCPServer("marker")


def mark(line: str) -> None:
    with open(MARKER, "a", encoding="utf-8") as f:
        f.write(line + "\n")


@server.tool()
def echo(message: str = "") -> str:
    """Returns the message."""
    return f"Echo: {message}"


@server.tool()
def danger(extra: Any = None) -> str:
    """Leaves a mark: the denied tool."""
    mark("danger")
    return "danger ran"


@server.tool()
def write(path: str = "", extra: Any = None) -> str:
    """Leaves a mark naming the path: denied for /etc paths."""
    mark(f"write {path}")
    return f"wrote {path}"


if __name__ == "__main__":
    server.run("stdio")

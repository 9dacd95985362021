"""Make a list of tool calls over stdio with the MCP Python SDK's `Client`.

Usage: call_tools.py CALLS_JSON -- COMMAND [ARGS...]

CALLS_JSON is a file holding a JSON array of `{"tool": NAME, "arguments":
{...}}`; COMMAND is the server to launch (the server itself, or mcp-blackbox
in front of it). The driver lists the tools once, then makes the calls one
after the other, each awaited before the next, so the trail holds them in
the file's order.

Prints one JSON object: `tools` (the names listed) and `calls`, one entry per
call in order, holding either `result` (the `CallToolResult` as the client
received it) or `raised` (the exception's type and message, and the JSON-RPC
`code`, `message` and `data` when the SDK raised for an error answer).
Nothing is scrubbed: the tests compare these bytes with what they sent.
"""

import asyncio
import json
import sys

from mcp import Client
from mcp.client.stdio import StdioServerParameters


def raised(e: Exception) -> dict:
    out = {"type": type(e).__name__, "message": str(e)}
    error = getattr(e, "error", None)
    if error is not None and hasattr(error, "code"):
        out["code"] = error.code
        out["error_message"] = getattr(error, "message", None)
        out["data"] = getattr(error, "data", None)
    return out


async def drive(calls: list[dict], command: list[str]) -> dict:
    params = StdioServerParameters(command=command[0], args=command[1:])
    out: dict = {"calls": []}
    async with Client(params) as client:
        listed = await client.list_tools()
        out["tools"] = sorted(t.name for t in listed.tools)
        for call in calls:
            try:
                result = await client.call_tool(call["tool"], call["arguments"])
                entry = {"result": result.model_dump(mode="json", by_alias=True, exclude_none=True)}
            except Exception as e:  # the SDK raises on JSON-RPC errors
                entry = {"raised": raised(e)}
            out["calls"].append(entry)
    return out


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        calls = json.load(f)
    out = asyncio.run(drive(calls, sys.argv[3:]))
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Drive an MCP server over stdio with the MCP Python SDK's `Client`.

Usage: drive.py SCENARIO -- COMMAND [ARGS...]

COMMAND is the server to launch: either the server itself or mcp-blackbox in
front of it. SCENARIO says which calls to make:
  everything  list tools, call `echo`, then `get-sum` with a bad argument and
              a tool that does not exist (both fail)
  time        list tools, call `get_current_time` for UTC

Prints one JSON object: the tool names and each call's outcome (its result,
or the error the SDK raised). Timestamps and weekdays are replaced by
placeholders, so two runs of the same scenario print the same bytes.
"""

import asyncio
import json
import re
import sys

from mcp import Client
from mcp.client.stdio import StdioServerParameters

SCENARIOS = {
    "everything": [
        ("echo", {"message": "hello through the black box ✓"}),
        ("get-sum", {"a": 1, "b": "not a number"}),
        ("no-such-tool", {}),
    ],
    "time": [("get_current_time", {"timezone": "UTC"})],
}

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
WEEKDAY = re.compile(r"\b(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b")


def scrub(text: str) -> str:
    return WEEKDAY.sub("<weekday>", TIMESTAMP.sub("<timestamp>", text))


async def drive(scenario: str, command: list[str]) -> dict:
    params = StdioServerParameters(command=command[0], args=command[1:])
    out: dict = {"scenario": scenario, "calls": []}
    async with Client(params) as client:
        listed = await client.list_tools()
        out["tools"] = sorted(t.name for t in listed.tools)
        for name, arguments in SCENARIOS[scenario]:
            call: dict = {"tool": name, "arguments": arguments}
            try:
                result = await client.call_tool(name, arguments)
                call["result"] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
            except Exception as e:  # the SDK raises on JSON-RPC errors
                call["raised"] = {"type": type(e).__name__, "message": str(e)}
                error = getattr(e, "error", None)
                if error is not None and hasattr(error, "code"):
                    call["raised"]["code"] = error.code
            out["calls"].append(call)
    return out


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "--" or sys.argv[1] not in SCENARIOS:
        sys.exit(__doc__)
    out = asyncio.run(drive(sys.argv[1], sys.argv[3:]))
    print(scrub(json.dumps(out, sort_keys=True, ensure_ascii=False)))


if __name__ == "__main__":
    main()

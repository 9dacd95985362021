"""A real MCP client session for scripts/demo.sh: the Python SDK's `Client`
(server/discover probe, falling back to initialize on a legacy server)
launching the given command, listing tools and calling a few of them."""
import asyncio
import sys
import textwrap

from mcp import Client
from mcp.client.stdio import StdioServerParameters


async def main() -> None:
    which, command = sys.argv[1], sys.argv[2:]
    async with Client(StdioServerParameters(command=command[0], args=command[1:])) as client:
        tools = await client.list_tools()
        print(f"  {len(tools.tools)} tools: {', '.join(t.name for t in tools.tools)}")
        if which == "time":
            calls = [("get_current_time", {"timezone": "Europe/Paris"})]
        else:
            calls = [("echo", {"message": "hello from the demo"}), ("get-sum", {"a": 2, "b": 3}),
                     ("get-sum", {"a": 1, "b": "not a number"})]
        for name, args in calls:
            result = await client.call_tool(name, args)
            text = result.content[0].text if result.content else ""
            # Shortened at a word, never mid-word.
            shown = textwrap.shorten(text, width=100, placeholder=" ...")
            print(f"  {name}({args}) -> {'ERROR ' if result.is_error else ''}{shown!r}")


asyncio.run(main())

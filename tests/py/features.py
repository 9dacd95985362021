"""Drive every protocol feature of server-everything with the MCP Python SDK.

Usage: features.py -- COMMAND [ARGS...]

COMMAND launches server-everything (directly or behind mcp-blackbox). The
client declares sampling, elicitation and roots callbacks, so the server
registers its conditional tools after the handshake and says so with
`notifications/tools/list_changed`; the driver waits for that notification
before listing tools. Then, in order:
  - `logging/setLevel` to `info`;
  - waits for the server's `roots/list` (it asks 350 ms after the handshake);
  - `trigger-long-running-operation` with a progress callback;
  - `trigger-sampling-request` (the server sends `sampling/createMessage`);
  - `trigger-elicitation-request` (the server sends `elicitation/create`);
  - `resources/list`, then `resources/read` of the first resource;
  - `prompts/list`, then `prompts/get` of `simple-prompt`;
  - `toggle-simulated-logging`, waiting until a `notifications/message` at
    `warning` or above has arrived, then the same tool again to stop it;
  - `tools/list` again.

Every wait is on an event with a bound (WAIT_S); none is a sleep. Prints one
JSON object of what the client saw, for the test to hold the trail against.
"""

import asyncio
import json
import sys
import warnings

import mcp_types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters

WAIT_S = 20.0
LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
LONG_RUN = {"duration": 0.6, "steps": 3}
SAMPLED_TEXT = "sampled reply from the features driver"
ELICITED = {"name": "Ada Lovelace", "check": True}


class Seen:
    """What the client's callbacks saw, and events to wait on."""

    def __init__(self) -> None:
        self.list_changed = 0
        self.list_changed_event = asyncio.Event()
        self.roots_requests = 0
        self.roots_event = asyncio.Event()
        self.sampling: list[dict] = []
        self.elicitation: list[dict] = []
        self.logs: list[dict] = []
        self.loud_log_event = asyncio.Event()
        self.progress: list[list] = []

    async def on_message(self, message) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self.list_changed += 1
            self.list_changed_event.set()

    async def on_sampling(self, _ctx, params: types.CreateMessageRequestParams):
        self.sampling.append(params.model_dump(mode="json", by_alias=True, exclude_none=True))
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=SAMPLED_TEXT),
            model="features-model",
            stop_reason="endTurn",
        )

    async def on_elicitation(self, _ctx, params):
        self.elicitation.append({"message": params.message})
        return types.ElicitResult(action="accept", content=ELICITED)

    async def on_roots(self, _ctx):
        self.roots_requests += 1
        self.roots_event.set()
        return types.ListRootsResult(roots=[types.Root(uri="file:///tmp/features", name="features")])

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append({"level": params.level, "data": params.data})
        if LEVELS.index(params.level) >= LEVELS.index("warning"):
            self.loud_log_event.set()

    async def on_progress(self, progress: float, total: float | None, _message: str | None) -> None:
        self.progress.append([progress, total])


async def wait(event: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), WAIT_S)
    except TimeoutError:
        sys.exit(f"features.py: no {what} within {WAIT_S} s")


def texts(result) -> list[str]:
    return [c.text for c in result.content if isinstance(c, types.TextContent)]


async def drive(command: list[str]) -> dict:
    seen = Seen()
    params = StdioServerParameters(command=command[0], args=command[1:])
    out: dict = {}
    async with Client(
        params,
        sampling_callback=seen.on_sampling,
        elicitation_callback=seen.on_elicitation,
        list_roots_callback=seen.on_roots,
        logging_callback=seen.on_log,
        message_handler=seen.on_message,
    ) as client:
        await wait(seen.list_changed_event, "notifications/tools/list_changed")
        out["tools_first"] = sorted(t.name for t in (await client.list_tools()).tools)
        await client.set_logging_level("info")
        await wait(seen.roots_event, "roots/list request")

        long_run = await client.call_tool(
            "trigger-long-running-operation", LONG_RUN, progress_callback=seen.on_progress
        )
        out["long_run"] = {"arguments": LONG_RUN, "text": texts(long_run)}
        sampled = await client.call_tool("trigger-sampling-request", {"prompt": "hello", "maxTokens": 10})
        out["sampling_call"] = {"is_error": bool(sampled.is_error), "text": texts(sampled)}
        elicited = await client.call_tool("trigger-elicitation-request", {})
        out["elicitation_call"] = {"is_error": bool(elicited.is_error), "text": texts(elicited)}

        resources = (await client.list_resources()).resources
        uri = str(resources[0].uri)
        read = await client.read_resource(uri)
        out["resource"] = {"uri": uri, "contents": len(read.contents)}
        prompts = sorted(p.name for p in (await client.list_prompts()).prompts)
        prompt = await client.get_prompt("simple-prompt")
        out["prompt"] = {"listed": prompts, "name": "simple-prompt", "messages": len(prompt.messages)}

        await client.call_tool("toggle-simulated-logging", {})
        await wait(seen.loud_log_event, "notifications/message at warning or above")
        await client.call_tool("toggle-simulated-logging", {})
        out["tools_second"] = sorted(t.name for t in (await client.list_tools()).tools)

    out.update(
        list_changed=seen.list_changed,
        roots_requests=seen.roots_requests,
        sampling_requests=seen.sampling,
        elicitation_requests=seen.elicitation,
        logs=seen.logs,
        progress=seen.progress,
        sampled_text=SAMPLED_TEXT,
        elicited=ELICITED,
    )
    return out


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] != "--":
        sys.exit(__doc__)
    # The SDK flags handshake-era features (logging/setLevel) as deprecated.
    warnings.simplefilter("ignore")
    out = asyncio.run(drive(sys.argv[2:]))
    print(json.dumps(out, sort_keys=True, ensure_ascii=False))


if __name__ == "__main__":
    main()

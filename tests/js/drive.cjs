// Drive an MCP server over stdio with the TypeScript SDK's Client.
//
// Usage: node drive.cjs SDK_DIR -- COMMAND [ARGS...]
//
// SDK_DIR is the installed @modelcontextprotocol/sdk package (the peers'
// npm prefix). COMMAND is the server: the server itself, mcp-blackbox in
// front of it, or `mcp-blackbox replay`. Lists the tools, calls `echo` and
// `get-sum` (twice with good arguments, once with a bad one) and prints one
// JSON object with every result, so that two runs print the same bytes.
"use strict";

const path = require("node:path");

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length < 3 || argv[1] !== "--") {
    console.error("usage: node drive.cjs SDK_DIR -- COMMAND [ARGS...]");
    process.exit(2);
  }
  const sdk = argv[0];
  const { Client } = require(path.join(sdk, "dist/cjs/client/index.js"));
  const { StdioClientTransport } = require(path.join(sdk, "dist/cjs/client/stdio.js"));
  const transport = new StdioClientTransport({
    command: argv[2],
    args: argv.slice(3),
    stderr: "inherit",
  });
  const client = new Client({ name: "blackbox-ts-driver", version: "1.0.0" });
  await client.connect(transport);
  const out = { server: client.getServerVersion(), calls: [] };
  const listed = await client.listTools();
  out.tools = listed.tools.map((t) => t.name).sort();
  const calls = [
    ["echo", { message: "typescript through the black box" }],
    ["get-sum", { a: 2, b: 3 }],
    ["get-sum", { a: 1, b: "x" }],
  ];
  for (const [name, args] of calls) {
    try {
      out.calls.push({ name, result: await client.callTool({ name, arguments: args }) });
    } catch (e) {
      out.calls.push({ name, raised: { code: e.code, message: String(e.message) } });
    }
  }
  await client.close();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

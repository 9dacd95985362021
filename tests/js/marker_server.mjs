// An MCP server on the official TypeScript SDK whose tools leave marks.
//
// Usage: node marker_server.mjs SDK_DIR MARKER_FILE
//
// SDK_DIR is the installed `@modelcontextprotocol/sdk` package (the peers put
// it under .peers/npm). Tools: `echo` returns its `message`; `danger` and
// `write` append one line to MARKER_FILE (`danger`, or `write <path>`) before
// answering. A policy test denies `danger` by name and `write` by an argument
// rule, then checks that MARKER_FILE never got a line it should not have.
import { appendFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [sdkDir, marker] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(`${sdkDir}/dist/esm/${path}`).href);
const { Server } = await load("server/index.js");
const { StdioServerTransport } = await load("server/stdio.js");
const { CallToolRequestSchema, ListToolsRequestSchema } = await load("types.js");

const mark = (line) => appendFileSync(marker, `${line}\n`);
const text = (t) => ({ content: [{ type: "text", text: t }] });
const schema = { type: "object" };
const tools = {
  echo: (args) => text(`Echo: ${args.message ?? ""}`),
  danger: () => {
    mark("danger");
    return text("danger ran");
  },
  write: (args) => {
    mark(`write ${args.path}`);
    return text(`wrote ${args.path}`);
  },
};

const server = new Server({ name: "marker", version: "0.0.1" }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({
  tools: Object.keys(tools).map((name) => ({ name, description: `${name} tool`, inputSchema: schema })),
}));
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  const tool = tools[request.params.name];
  if (!tool) throw new Error(`unknown tool ${request.params.name}`);
  return tool(request.params.arguments ?? {});
});
await server.connect(new StdioServerTransport());

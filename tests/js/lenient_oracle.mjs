// A lenient reader of client frames, as the TypeScript SDK's stdio server
// reads them (`ReadBuffer`): the oracle of the gate's fuzz test.
//
// Reads one hex-encoded frame per line on stdin and answers one line: `1` if
// it is a call the test policy denies, else `0`. A frame is decoded as UTF-8
// with replacement characters (`Buffer.toString`), one trailing `\r` is
// removed, and it is parsed with `JSON.parse` (lone surrogates and 1e400
// pass). The policy: `danger` is denied; `write` is denied when its `path`
// argument matches `^/etc` (strings as they are, other values as JSON text).
import { createInterface } from "node:readline";

const denied = (m) => {
  if (typeof m !== "object" || m === null || m.method !== "tools/call") return false;
  const p = m.params;
  if (typeof p !== "object" || p === null) return false;
  if (p.name === "danger") return true;
  const args = p.arguments;
  if (p.name !== "write" || typeof args !== "object" || args === null || !("path" in args)) return false;
  const path = typeof args.path === "string" ? args.path : JSON.stringify(args.path);
  return /^\/etc/.test(path ?? "");
};

for await (const line of createInterface({ input: process.stdin })) {
  const text = Buffer.from(line.trim(), "hex").toString("utf8").replace(/\r$/, "");
  let found = false;
  try {
    const value = JSON.parse(text);
    found = (Array.isArray(value) ? value : [value]).some(denied);
  } catch {
    found = false;
  }
  process.stdout.write(found ? "1\n" : "0\n");
}

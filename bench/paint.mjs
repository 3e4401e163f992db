// Time to first contentful paint and to the load event of a page in headless Chromium, read
// from the page's own Performance API over the DevTools protocol (on a pipe: no port, no
// dependency). Opens the page RUNS times (default 5), each in a fresh browser, and prints one
// JSON line with the medians: {"fcp": ms, "load": ms}.
//
//   node bench/paint.mjs file:///path/to/report.html [RUNS]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const url = process.argv[2];
const runs = Number(process.argv[3] || 5);

async function measure() {
const profile = mkdtempSync(join(tmpdir(), "paint-"));
const browser = spawn(
  process.env.CHROMIUM || "chromium",
  [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,1000", `--user-data-dir=${profile}`, "--remote-debugging-pipe",
    "about:blank",
  ],
  { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] },
);
const [, , , toBrowser, fromBrowser] = browser.stdio;

let next = 1;
const waiting = new Map();
const listeners = [];
let buffer = "";
fromBrowser.on("data", (chunk) => {
  buffer += chunk.toString();
  let end;
  while ((end = buffer.indexOf("\0")) >= 0) {
    const message = JSON.parse(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
    if (message.id && waiting.has(message.id)) {
      waiting.get(message.id)(message);
      waiting.delete(message.id);
    } else {
      listeners.forEach((listen) => listen(message));
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = next++;
  toBrowser.write(JSON.stringify({ id, method, params, sessionId }) + "\0");
  return new Promise((resolve, reject) =>
    waiting.set(id, (m) => (m.error ? reject(new Error(JSON.stringify(m.error))) : resolve(m.result))),
  );
}
const event = (method) =>
  new Promise((resolve) => listeners.push((m) => m.method === method && resolve(m)));

try {
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  await send("Page.enable", {}, sessionId);
  const loaded = event("Page.loadEventFired");
  await send("Page.navigate", { url }, sessionId);
  await loaded;
  // First paint may come after the load event on a small page: wait for it.
  const { result } = await send(
    "Runtime.evaluate",
    {
      expression: `new Promise((resolve) => {
        const done = () => {
          const paint = performance.getEntriesByName("first-contentful-paint")[0];
          if (!paint) return requestAnimationFrame(done);
          const nav = performance.getEntriesByType("navigation")[0];
          resolve(JSON.stringify({ fcp: Math.round(paint.startTime), load: Math.round(nav.loadEventStart) }));
        };
        done();
      })`,
      awaitPromise: true,
      returnByValue: true,
    },
    sessionId,
  );
  return JSON.parse(result.value);
} finally {
  const exited = new Promise((resolve) => browser.on("exit", resolve));
  browser.kill();
  await exited;
  rmSync(profile, { recursive: true, force: true });
}
}

const results = [];
for (let i = 0; i < runs; i++) results.push(await measure());
const median = (key) => results.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(runs / 2)];
console.log(JSON.stringify({ fcp: median("fcp"), load: median("load") }));

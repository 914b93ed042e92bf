// The web benchmark's browser half (scripts/bench-web.sh starts the release server first).
//
// For the try-on page of a signed-in shopper, in Debian's Chromium with 4× CPU throttling:
//  - bytes transferred for the page's wasm, JS and CSS, as the server sends them (Content-Encoding
//    included), from the DevTools protocol's own counters;
//  - time to interactive: navigation start → the "Try it on" button enabled. The server renders it
//    disabled and only the running wasm enables it (its island's first effect), so this is the
//    moment a click does what it should;
//  - the floor, in the same run and the same way: the same page with JavaScript disabled, where
//    the server-rendered form is usable once the document has loaded (load event end).
// Every load uses a fresh browser context (cold cache); the two kinds alternate so that noise from
// the shared machine hits both alike. Prints one JSON object.

import { chromium } from "playwright-core";

const base = process.argv[2];
const loads = Number(process.env.BENCH_LOADS ?? 7);
const throttle = 4;
if (!base) throw new Error("usage: node bench-web.mjs BASE_URL");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/lib/chromium/chromium",
  // The flags end2end/playwright.config.ts uses for Debian's Chromium (docs/build.md).
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

// One shopper for every load; the session cookie is copied into each fresh context.
const setup = await browser.newContext();
const signup = await setup.request.post(`${base}/api/auth/register`, {
  headers: { Origin: base },
  data: { email: `bench-${Date.now()}@example.com`, password: "correct horse battery" },
});
if (signup.status() !== 201) throw new Error(`sign-up failed: ${signup.status()} ${await signup.text()}`);
const cookies = await setup.cookies();
await setup.close();

// Marks when the button becomes enabled; runs before any page script, so nothing is missed.
const watchButton = () => {
  const check = () => {
    const button = [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === "Try it on");
    if (button && !button.disabled && window.__benchInteractive === undefined) {
      window.__benchInteractive = performance.now();
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
};

async function load({ javaScript }) {
  const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport: { width: 390, height: 844 } });
  await context.addCookies(cookies);
  if (javaScript) await context.addInitScript(watchButton);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: throttle });
  await cdp.send("Network.enable");
  const responses = new Map();
  const bytes = {};
  cdp.on("Network.responseReceived", (e) => responses.set(e.requestId, e.response));
  cdp.on("Network.loadingFinished", (e) => {
    const r = responses.get(e.requestId);
    if (!r) return;
    const path = new URL(r.url).pathname;
    const kind = path.endsWith(".wasm") ? "wasm" : path.endsWith(".js") ? "js" : path.endsWith(".css") ? "css" : r.mimeType === "text/html" ? "html" : "other";
    bytes[kind] = (bytes[kind] ?? 0) + e.encodedDataLength;
    bytes[`${kind}_encoding`] = r.headers["content-encoding"] ?? r.headers["Content-Encoding"] ?? "identity";
  });
  const response = await page.goto(`${base}/`, { waitUntil: "load" });
  if (response.status() !== 200 || !page.url().endsWith("/")) throw new Error(`try-on page answered ${response.status()} at ${page.url()}`);
  let ms;
  if (javaScript) {
    await page.waitForFunction(() => window.__benchInteractive !== undefined, null, { timeout: 60_000 });
    ms = await page.evaluate(() => window.__benchInteractive);
  } else {
    ms = await page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd);
  }
  await context.close();
  return { ms, bytes };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const ours = [], floor = [];
let transfer;
await load({ javaScript: true }); // warm the server (first render, database pages), not measured
for (let i = 0; i < loads; i++) {
  const withWasm = await load({ javaScript: true });
  transfer ??= withWasm.bytes;
  ours.push(withWasm.ms);
  floor.push((await load({ javaScript: false })).ms);
}
await browser.close();

console.log(JSON.stringify({
  cpu_throttling: throttle,
  loads,
  transferred_bytes: transfer,
  interactive_ms: { median: Math.round(median(ours)), all: ours.map(Math.round) },
  floor_no_js_load_ms: { median: Math.round(median(floor)), all: floor.map(Math.round) },
}, null, 2));

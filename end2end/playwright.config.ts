import { defineConfig, devices } from "@playwright/test";

// scripts/test.sh picks a free port and a throwaway data directory; the server is the debug
// build that `cargo leptos build` just made, started from the repository root.
const port = Number(process.env.FITROOM_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
const dataDir = process.env.FITROOM_E2E_DATA_DIR ?? "../target/e2e-data";

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    // Debian's Chromium: a browser download is impossible (and unwanted) here.
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/lib/chromium/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
  webServer: {
    command: process.env.FITROOM_E2E_BIN ?? "target/debug/fitroom serve",
    cwd: "..",
    url: `${baseURL}/readyz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      FITROOM_ADDR: `127.0.0.1:${port}`,
      DATABASE_URL: `sqlite://${dataDir}/fitroom.db`,
      FITROOM_DATA_DIR: dataDir,
      FITROOM_LOCAL_DELAY_MS: "300",
      LEPTOS_SITE_ROOT: "target/site",
      RUST_LOG: "warn",
    },
  },
});

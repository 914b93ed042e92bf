import { defineConfig, devices } from "@playwright/test";

// scripts/test.sh picks a free port and a throwaway data directory; the server is the debug
// build that `cargo leptos build` just made, started from the repository root.
const port = Number(process.env.FITROOM_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
const dataDir = process.env.FITROOM_E2E_DATA_DIR ?? "../target/e2e-data";
// A second Fitroom whose local provider fails every task, for the "not charged" journey.
const failingPort = Number(process.env.FITROOM_E2E_FAILING_PORT ?? port + 1);
const failingURL = `http://127.0.0.1:${failingPort}`;

function server(listen: number, dir: string, extra: Record<string, string> = {}) {
  return {
    command: process.env.FITROOM_E2E_BIN ?? "target/debug/fitroom serve",
    cwd: "..",
    url: `http://127.0.0.1:${listen}/readyz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "pipe" as const,
    stderr: "pipe" as const,
    env: {
      FITROOM_ADDR: `127.0.0.1:${listen}`,
      DATABASE_URL: `sqlite://${dir}/fitroom.db`,
      FITROOM_DATA_DIR: dir,
      FITROOM_LOCAL_DELAY_MS: "300",
      // Every browser test signs up from 127.0.0.1: the per-address limits are for the public.
      FITROOM_SIGNUPS_PER_HOUR: "0",
      FITROOM_LOGINS_PER_MINUTE: "0",
      // The garment-link journey fetches the sample shop page this same server serves.
      FITROOM_FETCH_ALLOW_PRIVATE: "true",
      LEPTOS_SITE_ROOT: "target/site",
      RUST_LOG: process.env.FITROOM_E2E_LOG ?? "warn",
      ...extra,
    },
  };
}

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
  projects: [
    { name: "chromium", use: { ...devices["Desktop Chrome"] }, testIgnore: /failing-provider/ },
    { name: "failing-provider", use: { ...devices["Desktop Chrome"], baseURL: failingURL }, testMatch: /failing-provider/ },
  ],
  // Retention other than the defaults, so that /privacy is seen to read the configuration.
  webServer: [server(port, dataDir, { FITROOM_INPUT_RETENTION_HOURS: "6", FITROOM_RESULT_RETENTION_DAYS: "30" }), server(failingPort, `${dataDir}/failing`, { FITROOM_LOCAL_FAILURE_RATE: "1" })],
});

import { defineConfig, devices } from "@playwright/test";

/**
 * End-to-end tests of Payout Engine.
 *
 * `cargo leptos end-to-end` builds the app, starts the server (fresh demo database, fault
 * injection on) and then runs `npx playwright test` in this folder, so there is no webServer
 * block here. The tests share that one database and run one at a time, in file order.
 *
 * Browser: Debian's Chromium (`apt-get install chromium`); `npx playwright install` is not used.
 * Override with CHROMIUM_PATH; point at another server with E2E_BASE_URL.
 */
const baseURL = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  testDir: "./tests",
  // Signs in as the demo owner; every test starts with that session unless it says otherwise.
  globalSetup: "./global-setup.ts",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  forbidOnly: !!process.env.CI,
  reporter: "list",
  use: {
    baseURL,
    storageState: ".auth/owner.json",
    // The server refuses cookie-authenticated changes without a same-site Origin (CSRF); the
    // browser sends one itself, the `request` fixture needs it set.
    extraHTTPHeaders: { Origin: baseURL },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
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
    },
  ],
});

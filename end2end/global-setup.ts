import { request, type FullConfig } from "@playwright/test";

/** Where the owner's signed-in browser state (the session cookie) is kept between setup and tests. */
export const OWNER_STATE = ".auth/owner.json";

/**
 * Signs in as the demo owner once (JSON API, same as the form) and saves the session cookie, so
 * the payout, reception and till tests start signed in as the owner. `roles.spec.ts` starts
 * signed out and signs in through the form as each role.
 */
export default async function globalSetup(config: FullConfig): Promise<void> {
  const baseURL = config.projects[0].use.baseURL ?? "http://127.0.0.1:3000";
  const context = await request.newContext({ baseURL, extraHTTPHeaders: { Origin: baseURL } });
  await serverReady(context);
  const response = await context.post("/api/v1/session", {
    data: { email: "owner@demo.test", password: "owner-demo" },
  });
  if (response.status() !== 201) {
    throw new Error(`the demo owner cannot sign in: ${response.status()} ${await response.text()}`);
  }
  await context.storageState({ path: OWNER_STATE });
  await context.dispose();
}

/**
 * Waits (up to 60 s) until the server answers `/healthz`: cargo-leptos starts Playwright as soon as
 * it has started the server, which first migrates and seeds the demo data.
 */
async function serverReady(context: import("@playwright/test").APIRequestContext): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    try {
      const health = await context.get("/healthz");
      if (health.ok()) return;
      last = `${health.status()} ${await health.text()}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the server did not become ready within 60 s: ${last}`);
}

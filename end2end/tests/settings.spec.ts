import { expect, test } from "@playwright/test";
import { hydrated, open, UI_TIMEOUT } from "./helpers";

// Runs as the demo owner (the default signed-in state of these tests).

test.describe("Settings", () => {
  test("the owner creates an API key that is shown once, works, and stops working when revoked", async ({
    page,
    playwright,
    baseURL,
  }) => {
    await open(page, "/settings");
    const name = `booking system ${Date.now()}`;
    const form = page.locator("form.api-key-form");
    await form.getByLabel("Name").fill(name);
    await form.locator("select[name=role]").selectOption("owner");
    await form.locator("select[name=access]").selectOption("read_only");
    await form.getByRole("button", { name: "Create key" }).click();
    const shown = page.locator(".new-key code.key");
    await expect(shown).toHaveText(/^pe_[0-9a-f]{8}_[0-9a-f]{64}$/, { timeout: UI_TIMEOUT });
    const key = (await shown.textContent()) ?? "";
    const row = page.locator(`table.api-keys tr[data-key="${name}"]`);
    await expect(row).toContainText("payouts:read", { timeout: UI_TIMEOUT });
    await expect(row).not.toContainText("payouts:write");
    // The list never shows the key itself, only its prefix.
    await expect(page.locator("table.api-keys")).not.toContainText(key.slice(12));

    // The key reads, but a read-only key cannot commit a payout.
    const integration = await playwright.request.newContext({
      baseURL,
      extraHTTPHeaders: { Authorization: `Bearer ${key}` },
      storageState: { cookies: [], origins: [] },
    });
    expect((await integration.get("/api/v1/payouts")).status()).toBe(200);
    const refused = await integration.post("/api/v1/payouts", {
      headers: { "Idempotency-Key": crypto.randomUUID() },
      data: { employee_id: "00000000-0000-0000-0000-000000000000", period_start: "2026-10-01", period_end: "2026-10-02" },
    });
    expect(refused.status()).toBe(403);

    await row.getByRole("button", { name: "Revoke" }).click();
    await expect(row).toContainText("revoked", { timeout: UI_TIMEOUT });
    expect((await integration.get("/api/v1/payouts")).status()).toBe(401);
    await integration.dispose();
  });

  test("the owner adds a receptionist who can then sign in", async ({ page, playwright, baseURL }) => {
    await open(page, "/settings");
    const email = `new.reception.${Date.now()}@demo.test`;
    const form = page.locator("form.user-form");
    await form.getByLabel("Name").fill("Nina Frey");
    await form.getByLabel("Email").fill(email);
    await form.locator("select[name=role]").selectOption("receptionist");
    await form.locator("select[name=studio_id]").selectOption({ label: "Studio Marktgasse, Bern" });
    await form.getByLabel("Initial password (12+ characters)").fill("a long enough password");
    await form.getByRole("button", { name: "Add person" }).click();
    await expect(page.locator(`table.users tr[data-user="${email}"]`)).toContainText("receptionist", {
      timeout: UI_TIMEOUT,
    });
    const nina = await playwright.request.newContext({
      baseURL,
      extraHTTPHeaders: { Origin: baseURL ?? "" },
      storageState: { cookies: [], origins: [] },
    });
    const signIn = await nina.post("/api/v1/session", { data: { email, password: "a long enough password" } });
    expect(signIn.status()).toBe(201);
    expect((await signIn.json()).role).toBe("receptionist");
    await nina.dispose();
  });

  test("the activity log shows who created the key, when and with what", async ({ page }) => {
    await open(page, "/activity");
    const entry = page.locator('table.activity tr[data-action="api_key.create"]').first();
    await expect(entry).toContainText("owner@demo.test", { timeout: UI_TIMEOUT });
    await entry.getByText("states").click();
    await expect(entry.locator("pre")).toContainText('"scopes"');
    await hydrated(page);
  });
});

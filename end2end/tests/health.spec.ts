import { expect, test } from "@playwright/test";
import { open, UI_TIMEOUT } from "./helpers";

test.describe("The server", () => {
  test("answers its health check with the SQLite database", async ({ request }) => {
    const response = await request.get("/healthz");
    expect(response.status()).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", database: "sqlite" });
  });

  test("serves the home page with the three roles", async ({ page }) => {
    await open(page, "/");
    await expect(page.getByRole("heading", { level: 1, name: "Payout Engine" })).toBeVisible({ timeout: UI_TIMEOUT });
    const roles = page.locator("ul.roles");
    await expect(roles.getByRole("link", { name: /^Reception/ })).toHaveAttribute("href", "/reception");
    await expect(roles.getByRole("link", { name: /^Owner/ })).toHaveAttribute("href", "/owner");
    await expect(roles.getByRole("link", { name: /^Employee/ })).toHaveAttribute("href", "/employees");
  });
});

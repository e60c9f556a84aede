import { expect, test, type Page } from "@playwright/test";
import { hydrated, UI_TIMEOUT } from "./helpers";

// These tests start signed out (no owner session) and sign in through the form, as a person would.
test.use({ storageState: { cookies: [], origins: [] } });

/** Signs in through the form on `path` and waits for the signed-in page. */
async function signIn(page: Page, path: string, email: string, password: string): Promise<void> {
  await page.goto(path);
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible({ timeout: UI_TIMEOUT });
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(".signed-in")).toBeVisible({ timeout: UI_TIMEOUT });
  await hydrated(page);
}

/** The navigation's link texts. */
async function navigation(page: Page): Promise<string[]> {
  return (await page.locator("header.top nav a").allInnerTexts()).map((t) => t.trim());
}

test.describe("Roles", () => {
  test("nobody signed in sees the sign-in form and no data, and a wrong password is refused", async ({ page }) => {
    await page.goto("/owner");
    await hydrated(page);
    await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(page.locator("table.employees")).toHaveCount(0);
    await expect(page.getByText("Lara Meier")).toHaveCount(0);
    await page.getByLabel("Email").fill("owner@demo.test");
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.locator("p.error")).toHaveText("⚠ Wrong email or password.", { timeout: UI_TIMEOUT });
    await expect(page.locator(".signed-in")).toHaveCount(0);
  });

  test("the owner sees every page and both studios' employees", async ({ page }) => {
    await signIn(page, "/owner", "owner@demo.test", "owner-demo");
    expect(await navigation(page)).toEqual(["Reception", "Till", "Dashboard", "Payouts", "Employees", "Card payments", "Settlements", "Exports", "Audit", "Webhooks", "Live", "Settings"]);
    const rows = page.locator("table.employees tr[data-employee]");
    await expect(rows.first()).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(page.locator('tr[data-employee="Lara Meier"]')).toHaveCount(1);
    await expect(page.locator('tr[data-employee="Luca Schmid"]')).toHaveCount(1);
  });

  test("a receptionist works in her own studio only and cannot reach the audit", async ({ page }) => {
    await signIn(page, "/owner", "reception@demo.test", "reception-demo");
    await expect(page.locator(".signed-in")).toContainText("receptionist");
    expect(await navigation(page)).toEqual(["Reception", "Till", "Payouts", "Employees", "Live"]);
    // Bank files and statements are the owner's: no link, and the API refuses her.
    expect(await navigation(page)).not.toContain("Settlements");
    expect((await page.request.get("/api/v1/settlements")).status()).toBe(403);
    // The dashboard (the business's takings) is the owner's too.
    expect(await navigation(page)).not.toContain("Dashboard");
    expect((await page.request.get("/api/v1/dashboard")).status()).toBe(403);
    await expect(page.locator('tr[data-employee="Lara Meier"]')).toHaveCount(1, { timeout: UI_TIMEOUT });
    // Luca Schmid works in Bern: not hers to see or pay.
    await expect(page.locator('tr[data-employee="Luca Schmid"]')).toHaveCount(0);
    // Her live feed: her studio's events only, so the studio filter offers only hers. (The page keeps
    // its stream open, so the network never goes idle: the feed turning live shows it hydrated.)
    await page.getByRole("link", { name: "Live" }).click();
    await expect(page.getByTestId("feed-state")).toHaveAttribute("data-state", "live", { timeout: UI_TIMEOUT });
    await expect(page.getByLabel("Studio").locator("option")).toHaveText(["All my studios", "Salon Seefeld, Zürich"]);
    await page.goto("/audits");
    await hydrated(page);
    // The refusal as data, worded by the page: the role and the action in the page's language.
    await expect(page.locator("p.error").first()).toContainText(/Your role \(receptionist\) may not [a-z ,]+\. Ask the owner\./, { timeout: UI_TIMEOUT });
  });

  test("an employee sees only her own payouts, and signing out ends the session", async ({ page }) => {
    await signIn(page, "/", "lara@demo.test", "employee-demo");
    expect(await navigation(page)).toEqual(["My payouts"]);
    expect(await navigation(page)).not.toContain("Settlements");
    expect((await page.request.get("/api/v1/settlements")).status()).toBe(403);
    await page.getByRole("link", { name: "My payouts" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Lara Meier" })).toBeVisible({ timeout: UI_TIMEOUT });
    await page.goto("/employees");
    await hydrated(page);
    await expect(page.locator("ul.people li")).toHaveCount(1, { timeout: UI_TIMEOUT });
    await expect(page.locator("ul.people li")).toContainText("Lara Meier");
    // Her session cannot read another employee's page either.
    const others = await page.request.get("/api/v1/employees");
    expect(((await others.json()) as { name: string }[]).map((e) => e.name)).toEqual(["Lara Meier"]);
    // No live feed for employees: no link, the page says why, and the stream itself is refused.
    await page.goto("/live");
    await hydrated(page);
    await expect(page.locator("p.error").first()).toContainText("may not watch the live feed", { timeout: UI_TIMEOUT });
    await expect(page.getByTestId("feed-state")).toHaveCount(0);
    expect((await page.request.get("/api/v1/events/stream")).status()).toBe(403);

    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible({ timeout: UI_TIMEOUT });
    expect((await page.request.get("/api/v1/payouts")).status()).toBe(401);
  });
});

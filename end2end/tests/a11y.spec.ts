import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { employee, LARA_LOGIN, signedInContext, UI_TIMEOUT } from "./helpers";

// Accessibility (issue 10): axe-core checks every page, as the people who use it, against WCAG
// 2.1 A and AA. No violation of impact "serious" or "critical" may remain (forms without labels,
// text without enough contrast, buttons without names, ...). Each failure lists the rule, its
// help text and the offending elements. (@axe-core/playwright is pinned at 4.13.0: 4.14 needs
// Node.js 22, and this machine's is 20.)

/** The serious and critical WCAG violations axe-core finds on the page as it is now. */
async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map(
      (violation) =>
        `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes
          .slice(0, 5)
          .map((node) => node.target.join(" "))
          .join(", ")}`,
    );
}

/** Opens `path` and waits for its heading (the Live page streams, so the network never idles). */
async function show(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page.getByRole("heading", { level: 1 }).first()).toBeVisible({ timeout: UI_TIMEOUT });
  await page.waitForLoadState("load");
}

/** Every page the owner can open (the payout page with a committed payout of the demo). */
const OWNER_PAGES = [
  "/",
  "/reception",
  "/till",
  "/dashboard",
  "/owner",
  "/employees",
  "/payments",
  "/settlements",
  "/exports",
  "/audits",
  "/webhooks",
  "/live",
  "/settings",
  "/activity",
];

test.describe("Accessibility", () => {
  for (const path of OWNER_PAGES) {
    test(`${path} has no serious or critical axe-core violations`, async ({ page }) => {
      await show(page, path);
      expect(await seriousViolations(page)).toEqual([]);
    });
  }

  test("a payout's page and an employee's page have no serious or critical violations", async ({ page, request }) => {
    const listed = await request.get("/api/v1/payouts?state=committed");
    const [payout] = (await listed.json()) as { id: string; employee_id: string }[];
    await show(page, `/payouts/${payout.id}`);
    expect(await seriousViolations(page)).toEqual([]);
    await show(page, `/employees/${payout.employee_id}`);
    expect(await seriousViolations(page)).toEqual([]);
  });

  test("the sign-in page has no serious or critical violations", async ({ browser, baseURL }) => {
    const context = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
    try {
      const page = await context.newPage();
      await show(page, "/login");
      expect(await seriousViolations(page)).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("Lara's own page, as she sees it, has no serious or critical violations", async ({ browser, baseURL, request }) => {
    const lara = await employee(request, "Lara Meier");
    const { context, page } = await signedInContext(browser, baseURL, LARA_LOGIN, `/employees/${lara.id}`);
    try {
      await expect(page.getByRole("heading", { level: 1, name: "Lara Meier" })).toBeVisible({ timeout: UI_TIMEOUT });
      expect(await seriousViolations(page)).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

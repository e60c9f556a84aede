import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { chf, date, hydrated, UI_TIMEOUT } from "./helpers";

// The owner dashboard (issue 10) on the demo data. Read-only: it changes nothing the other files'
// tests rely on, and reads whatever they changed before it (the API is asked for the same query).

/** The four figures and the service count (Rappen). */
interface Amounts {
  services: number;
  revenue: number;
  commission: number;
  tips: number;
  payouts: number;
}

/** `GET /api/v1/dashboard` (the fields the tests read). */
interface Dashboard {
  from: string;
  to: string;
  studio_id: string | null;
  studios: { id: string; name: string }[];
  granularity: "week" | "month";
  currency: string;
  totals: Amounts;
  employees: { employee_name: string; studio_name: string; amounts: Amounts }[];
  periods: { label: string; start: string; end: string; amounts: Amounts }[];
  attention: { failed_payouts: number; pending_payouts: number; open_audit_findings: number };
}

const FIGURES = ["revenue", "commission", "tips", "payouts"] as const;


/** The dashboard the JSON API answers for `query`, with the same session cookie as the page. */
async function apiDashboard(request: APIRequestContext, query: string): Promise<Dashboard> {
  const response = await request.get(`/api/v1/dashboard${query}`);
  expect(response.status(), `GET /api/v1/dashboard${query}: ${await response.text()}`).toBe(200);
  return (await response.json()) as Dashboard;
}

/** Every totals cell of the page (the summary, then each table's totals row after opening it) shows the API's totals. */
async function expectTotals(page: Page, api: Dashboard): Promise<void> {
  for (const figure of FIGURES) {
    const total = page.getByTestId(`total-${figure}`);
    await expect(total).toHaveText(chf(api.totals[figure]), { timeout: UI_TIMEOUT });
    await expect(total).toHaveAttribute("data-rappen", String(api.totals[figure]));
  }
  await expect(page.getByTestId("total-services")).toHaveText(String(api.totals.services));
  for (const chart of ["employees", "periods"]) {
    // The numbers are one click away: "Numbers" under each chart opens its table.
    const section = page.locator(`section.dashboard-chart[data-chart="${chart}"]`);
    await section.locator("details.numbers > summary").click();
    for (const figure of FIGURES) {
      const cell = page.getByTestId(`${chart}-total-${figure}`);
      await expect(cell).toBeVisible();
      await expect(cell).toHaveText(chf(api.totals[figure]));
      await expect(cell).toHaveAttribute("data-rappen", String(api.totals[figure]));
    }
    await expect(page.getByTestId(`${chart}-total-services`)).toHaveText(String(api.totals.services));
  }
}

test.describe("Owner dashboard", () => {
  test("renders the demo data as two charts whose totals equal the API's", async ({ page, request }) => {
    await page.goto("/dashboard");
    await hydrated(page);
    await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible({ timeout: UI_TIMEOUT });

    // Without a period the page and the API both show last month and this month up to the latest
    // service: the demo's 1 September to 30 October 2026, by week.
    const api = await apiDashboard(request, "");
    expect([api.from, api.to, api.granularity]).toEqual(["2026-09-01", "2026-10-30", "week"]);
    expect(api.totals.revenue).toBeGreaterThan(0);
    expect(api.totals.payouts).toBeGreaterThan(0);
    await expect(page.locator('input[name="from"]')).toHaveValue(api.from);
    await expect(page.locator('input[name="to"]')).toHaveValue(api.to);

    // What needs the owner is at the top, in words, with links.
    const payouts = page.getByTestId("attention-payouts");
    await expect(payouts).toHaveAttribute("data-failed", String(api.attention.failed_payouts));
    await expect(payouts.getByRole("link", { name: "Open payouts" })).toBeVisible();
    await expect(page.getByTestId("attention-audit").getByRole("link", { name: "Open audit" })).toHaveAttribute("href", "/audits");

    // Two server-rendered SVG charts, each with its title, a bar group per employee or week, and
    // every bar named in text.
    const byEmployee = page.getByRole("img", { name: /per employee/ });
    const byWeek = page.getByRole("img", { name: /per week/ });
    await expect(byEmployee).toBeVisible();
    await expect(byWeek).toBeVisible();
    await expect(byEmployee.locator("g.group")).toHaveCount(api.employees.length);
    await expect(byWeek.locator("g.group")).toHaveCount(api.periods.length);
    await expect(byEmployee.locator("g.bar rect")).toHaveCount(api.employees.length * 4);
    const lara = api.employees.find((e) => e.employee_name === "Lara Meier");
    expect(lara).toBeDefined();
    await expect(byEmployee.locator("text", { hasText: `Revenue ${chf(lara?.amounts.revenue ?? 0)}` })).toHaveCount(1);
    const box = await byEmployee.boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(300);

    await expectTotals(page, api);
    // The employees' table lists each employee with their figures.
    const laraRow = page.locator("table.dashboard-employees tbody tr", { hasText: "Lara Meier" });
    await expect(laraRow).toContainText(chf(lara?.amounts.commission ?? 0));
  });

  test("the plain form picks one studio and months, and the totals follow the API's", async ({ page, request }) => {
    await page.goto("/dashboard");
    await hydrated(page);
    const all = await apiDashboard(request, "");
    const bern = all.studios.find((s) => s.name === "Studio Marktgasse, Bern");
    expect(bern).toBeDefined();

    const form = page.locator("form.dashboard-filters");
    await form.getByRole("combobox", { name: "Studio" }).selectOption({ label: "Studio Marktgasse, Bern" });
    await form.getByRole("combobox", { name: "Per" }).selectOption("month");
    await form.getByRole("button", { name: "Show" }).click();
    await page.waitForURL(/\/dashboard\?.*granularity=month/, { timeout: UI_TIMEOUT });
    await hydrated(page);

    const query = `?studio_id=${bern?.id}&from=${all.from}&to=${all.to}&granularity=month`;
    const api = await apiDashboard(request, query);
    expect(api.periods.map((p) => p.label)).toEqual(["2026-09", "2026-10"]);
    expect(api.employees.every((e) => e.studio_name === "Studio Marktgasse, Bern")).toBe(true);
    expect(api.totals.revenue).toBeLessThan(all.totals.revenue);
    await expect(page.getByRole("heading", { level: 2, name: `Studio Marktgasse, Bern, ${date("2026-09-01")} to ${date("2026-10-30")}`, exact: true })).toBeVisible();
    await expect(page.getByRole("img", { name: /per month/ }).locator("g.group")).toHaveCount(2);
    await expectTotals(page, api);
  });
});

test.describe("Owner dashboard without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("reads the same: charts, totals and the form work as plain HTML", async ({ page, request }) => {
    await page.goto("/dashboard?from=2026-09-28&to=2026-10-04&granularity=month");
    await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible({ timeout: UI_TIMEOUT });
    const api = await apiDashboard(request, "?from=2026-09-28&to=2026-10-04&granularity=month");
    await expect(page.getByRole("img", { name: /per month/ }).locator("g.group")).toHaveCount(2);
    await expectTotals(page, api);
    // The form is an ordinary GET: choosing weeks reloads the page with them.
    await page.locator('select[name="granularity"]').selectOption("week");
    await page.getByRole("button", { name: "Show" }).click();
    await page.waitForURL(/granularity=week/, { timeout: UI_TIMEOUT });
    await expect(page.getByRole("img", { name: /per week/ }).locator("g.group")).toHaveCount(1);
  });
});

test.describe("Owner dashboard on a phone", () => {
  test.use({ viewport: { width: 375, height: 812 } });

  test("fits 375 px: the charts scale to the width and the tables scroll inside their box", async ({ page }) => {
    await page.goto("/dashboard");
    await hydrated(page);
    const chart = page.getByRole("img", { name: /per employee/ });
    await expect(chart).toBeVisible({ timeout: UI_TIMEOUT });
    const box = await chart.boundingBox();
    expect(box?.width ?? 1000).toBeLessThanOrEqual(375);
    // The page itself does not scroll sideways.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});

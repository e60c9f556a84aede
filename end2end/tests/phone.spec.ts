import { randomUUID } from "node:crypto";
import { expect, test, type Locator, type Page } from "@playwright/test";
import { armFault, attentionBanner, clearFaults, employee, LARA_LOGIN, open, signedInContext, UI_TIMEOUT } from "./helpers";

// Phones (issue 10): the receptionist's register form and the employee's page work at 375 px
// (an iPhone SE/mini): nothing wider than the screen, every control at least 44 px tall and wide
// (WCAG 2.5.5, Apple's HIG), and the red banner of a failed payout stays in view while scrolling.
// Screenshots of both pages are attached to the test results.

const PHONE = { width: 375, height: 740 };
test.use({ viewport: PHONE, hasTouch: true });

test.afterEach(async ({ request }) => {
  await clearFaults(request);
});

/** The page is no wider than the phone: nothing to scroll sideways. */
async function expectNoSidewaysScroll(page: Page): Promise<void> {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width, "the page's width at 375 px").toBeLessThanOrEqual(PHONE.width);
}

/**
 * The visible controls in `scope` smaller than 44 × 44 px, described (`select "Employee" 40×30`).
 * A radio button or checkbox counts with its label, which is what a finger hits.
 */
async function smallTouchTargets(scope: Locator): Promise<string[]> {
  return scope.evaluate((root) => {
    const controls = root.querySelectorAll<HTMLElement>("a, button, select, textarea, summary, input:not([type=hidden])");
    const small: string[] = [];
    for (const control of Array.from(controls)) {
      const input = control as HTMLInputElement;
      const target = (input.type === "radio" || input.type === "checkbox") && control.closest("label") ? (control.closest("label") as HTMLElement) : control;
      const box = target.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue; // not shown
      if (box.height < 44 || box.width < 44) {
        const name = target.getAttribute("aria-label") ?? target.textContent?.trim().slice(0, 30) ?? "";
        small.push(`${target.tagName.toLowerCase()} "${name}" ${Math.round(box.width)}×${Math.round(box.height)}`);
      }
    }
    return small;
  });
}

test.describe("Phones", () => {
  test("the register form fits 375 px with 44 px touch targets and the red banner stays in view", async ({ page, request }, testInfo) => {
    // A payout that fails while verifying its totals: the banner must show it on the phone too.
    const chiara = await employee(request, "Chiara Moser");
    let payoutId: string | undefined;
    if (chiara.unpaid_record_count > 0) {
      await armFault(request, { phase: "totals_verified", kind: "error", times: 1 });
      const attempt = await request.post("/api/v1/payouts", {
        headers: { "Idempotency-Key": randomUUID() },
        data: { employee_id: chiara.id, period_start: chiara.oldest_unpaid_on, period_end: chiara.newest_unpaid_on, method: "bank" },
      });
      expect(attempt.status(), await attempt.text()).toBe(500);
      expect(await attempt.text()).toContain("payout_failed");
      const failed = await request.get(`/api/v1/payouts?employee_id=${chiara.id}&state=failed`);
      payoutId = ((await failed.json()) as { id: string }[])[0]?.id;
    }
    expect(payoutId, "a failed payout for the banner").toBeDefined();
    try {
      await open(page, "/reception");
      const form = page.locator("#services form").filter({ has: page.getByRole("button", { name: "Register service" }) });
      await expect(form.getByLabel("Employee")).toBeVisible({ timeout: UI_TIMEOUT });
      await expectNoSidewaysScroll(page);
      expect(await smallTouchTargets(form)).toEqual([]);

      const banner = attentionBanner(page);
      await expect(banner).toContainText("Chiara Moser", { timeout: UI_TIMEOUT });
      expect(await smallTouchTargets(banner)).toEqual([]);
      // Scrolled to the end of the page, the banner is still on screen.
      await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
      await expect(banner).toBeInViewport();
      await page.evaluate(() => window.scrollTo(0, 0));
      await testInfo.attach("reception-375px.png", { body: await page.screenshot({ fullPage: true }), contentType: "image/png" });
    } finally {
      const finished = await request.post(`/api/v1/payouts/${payoutId}/finish`, { headers: { "Idempotency-Key": randomUUID() }, data: {} });
      expect(finished.status(), await finished.text()).toBe(200);
    }
  });

  test("Lara's own page fits 375 px and its slip links are 44 px touch targets", async ({ browser, baseURL, request }, testInfo) => {
    const lara = await employee(request, "Lara Meier");
    const { context, page } = await signedInContext(browser, baseURL, LARA_LOGIN, `/employees/${lara.id}`);
    try {
      await page.setViewportSize(PHONE);
      await expect(page.getByRole("heading", { level: 1, name: "Lara Meier" })).toBeVisible({ timeout: UI_TIMEOUT });
      await expect(page.getByRole("heading", { level: 2, name: "Bank transfers" })).toBeVisible({ timeout: UI_TIMEOUT });
      await expectNoSidewaysScroll(page);
      expect(await smallTouchTargets(page.locator("header.top"))).toEqual([]);
      expect(await smallTouchTargets(page.locator("table.payouts, p.hint").first())).toEqual([]);
      await testInfo.attach("employee-375px.png", { body: await page.screenshot({ fullPage: true }), contentType: "image/png" });
    } finally {
      await context.close();
    }
  });
});

import { expect, test } from "@playwright/test";
import {
  armFault,
  attentionBanner,
  clearFaults,
  commitButton,
  employee,
  octoberPayoutsOf,
  open,
  payoutsOf,
  preparePayout,
  successNotice,
  UI_TIMEOUT,
} from "./helpers";

// All tests share one freshly seeded demo database. Each works on its own employee (Lara Meier,
// Sofia Brunner, Luca Schmid), so they pass in any order; the reception tests use others again.

test.afterEach(async ({ request }) => {
  // A fault left armed by a failing test must never leak into the next one.
  await clearFaults(request);
});

test.describe("Payouts", () => {
  test("the owner commits Lara Meier's 212-record payout of CHF 18'080.00 exactly once", async ({ page, request }) => {
    const lara = await employee(request, "Lara Meier");
    expect(lara.studio_name).toBe("Salon Seefeld, Zürich");
    expect(lara.unpaid_record_count).toBe(212);
    expect(lara.unpaid_total).toBe(1_808_000);
    expect(await payoutsOf(request, lara.id)).toHaveLength(0);

    const summary = await preparePayout(page, "Lara Meier");
    await expect(summary).toHaveAttribute("data-record-count", "212");
    await expect(summary).toHaveAttribute("data-total", "1808000");
    await expect(summary).toContainText(/^Lara Meier — \d{1,2} \w{3,4} \d{4} to \d{1,2} \w{3,4} \d{4}: 212 records, total CHF\s18'080\.00$/);
    await expect(commitButton(page)).toHaveText("Commit payout of CHF 18'080.00");

    await commitButton(page).click();

    const notice = page.locator('#prepare p.notice.success[data-state="committed"]');
    await expect(notice).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(notice).toContainText("Payout to Lara Meier committed: 212 records, CHF 18'080.00.");
    await expect(notice.getByRole("link", { name: "Open payout" })).toBeVisible();
    await expect(page.locator("#prepare p.error")).toHaveCount(0);

    const committed = await payoutsOf(request, lara.id, "committed");
    expect(committed).toHaveLength(1);
    expect(committed[0]).toMatchObject({ employee_name: "Lara Meier", state: "committed", record_count: 212, total: 1_808_000, currency: "CHF" });
    expect(await payoutsOf(request, lara.id)).toHaveLength(1);
    expect((await employee(request, "Lara Meier")).unpaid_record_count).toBe(0);

    // The list of payouts below shows it, and its own page says committed with the same total.
    const row = page.locator(`table.payouts tr[data-payout-id="${committed[0].id}"]`);
    await expect(row).toContainText("committed", { timeout: UI_TIMEOUT });
    await expect(row).toContainText("CHF 18'080.00");

    await notice.getByRole("link", { name: "Open payout" }).click();
    await page.waitForURL(`**/payouts/${committed[0].id}`, { timeout: UI_TIMEOUT });
    await expect(page.locator('dl.facts[data-state="committed"]')).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(page.locator("dl.facts dd.total")).toHaveText("CHF 18'080.00");
    await expect(page.locator("button.finish")).toHaveCount(0);
  });

  test("a payout that fails while verifying its totals shows in the red banner and Finish payout completes it", async ({
    page,
    request,
  }) => {
    await clearFaults(request);
    const sofia = await employee(request, "Sofia Brunner");
    expect(sofia.unpaid_record_count).toBeGreaterThan(0);
    expect(await octoberPayoutsOf(request, sofia.id)).toHaveLength(0);

    const summary = await preparePayout(page, "Sofia Brunner");
    const recordCount = Number(await summary.getAttribute("data-record-count"));
    const total = Number(await summary.getAttribute("data-total"));
    expect(recordCount).toBe(sofia.unpaid_record_count);

    await armFault(request, { phase: "totals_verified", kind: "error", times: 1 });
    await commitButton(page).click();

    const failure = page.locator("#prepare p.error");
    await expect(failure).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(failure).toContainText("Sofia Brunner");
    await expect(failure).toContainText("failed");
    await expect(page.locator("#prepare p.notice.success")).toHaveCount(0);

    const failed = await payoutsOf(request, sofia.id, "failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ failed_phase: "totals_verified", state: "failed" });
    const payoutId = failed[0].id;

    // Another desk (reception) sees the red banner with the failed payout.
    await open(page, "/reception");
    const banner = attentionBanner(page);
    await expect(banner).toBeVisible({ timeout: UI_TIMEOUT });
    const item = banner.locator(`li.attention-item[data-payout-id="${payoutId}"]`);
    await expect(item).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(item).toContainText("Sofia Brunner");
    await expect(item).toContainText(/\d+ of \d+ records done/);
    await expect(item).toContainText("failed while verifying the totals");

    await item.locator("button.finish", { hasText: "Finish payout" }).click();

    await expect(item).toBeHidden({ timeout: UI_TIMEOUT });
    await expect(banner).toBeHidden({ timeout: UI_TIMEOUT });
    const notice = successNotice(page).filter({ hasText: "Payout to Sofia Brunner committed" });
    await expect(notice).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(notice).toContainText(`${recordCount} records`);

    // Exactly one October payout: the same one, now committed; nothing failed or pending is left.
    const october = await octoberPayoutsOf(request, sofia.id);
    expect(october).toHaveLength(1);
    expect(october[0]).toMatchObject({ id: payoutId, state: "committed", record_count: recordCount, total });
    expect(await payoutsOf(request, sofia.id, "failed")).toHaveLength(0);
    expect(await payoutsOf(request, sofia.id, "pending")).toHaveLength(0);
    expect((await employee(request, "Sofia Brunner")).unpaid_record_count).toBe(0);

    // Its own page agrees.
    await open(page, `/payouts/${payoutId}`);
    await expect(page.locator('dl.facts[data-state="committed"]')).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(page.locator("button.finish")).toHaveCount(0);
  });

  test("double-clicking Commit pays Luca Schmid once", async ({ page, request }) => {
    const luca = await employee(request, "Luca Schmid");
    expect(luca.studio_name).toBe("Studio Marktgasse, Bern");
    expect(luca.unpaid_record_count).toBeGreaterThan(0);
    expect(await octoberPayoutsOf(request, luca.id)).toHaveLength(0);
    const payoutsBefore = (await payoutsOf(request, luca.id)).length;

    const summary = await preparePayout(page, "Luca Schmid");
    const recordCount = Number(await summary.getAttribute("data-record-count"));
    const total = Number(await summary.getAttribute("data-total"));

    await commitButton(page).dblclick();

    const notice = page.locator('#prepare p.notice.success[data-state="committed"]');
    await expect(notice).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(notice).toContainText(`Payout to Luca Schmid committed: ${recordCount} records`);
    // Once the commit is through, the refreshed preview has nothing left to pay.
    await expect(page.locator("#prepare p.hint", { hasText: "Nothing to pay in this period." })).toBeVisible({
      timeout: UI_TIMEOUT,
    });
    await expect(page.locator("#prepare p.error")).toHaveCount(0);

    const october = await octoberPayoutsOf(request, luca.id);
    expect(october).toHaveLength(1);
    expect(october[0]).toMatchObject({ state: "committed", record_count: recordCount, total });
    expect(await payoutsOf(request, luca.id)).toHaveLength(payoutsBefore + 1);
    expect(await payoutsOf(request, luca.id, "failed")).toHaveLength(0);
    expect((await employee(request, "Luca Schmid")).unpaid_record_count).toBe(0);
  });
});

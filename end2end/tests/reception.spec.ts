import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { date, employee, open, successNotice, UI_TIMEOUT } from "./helpers";

// Each test works on its own employee (Jonas Keller, Tim Frei, Anna Huber), so none disturbs the
// payout tests, which use Lara Meier, Sofia Brunner and Luca Schmid.

/** On /reception: chooses the employee, then their studio's "Men's cut" (which fills the price). */
async function chooseMensCut(page: Page, employeeLabel: string): Promise<void> {
  const employeeSelect = page.locator("#services select[name=employee_id]");
  const serviceSelect = page.locator("#services select[name=service_id]");
  await expect(employeeSelect).toBeVisible({ timeout: UI_TIMEOUT });
  // Both studios offer a Men's cut; once the employee is chosen only their studio's is listed.
  // The form sits in a Suspense boundary that may hydrate a moment after the page: re-select until
  // the hydrated change handler has narrowed the list. (Anchored: "Women's cut" contains "men's cut".)
  const mensCut = serviceSelect.locator("option", { hasText: /^Men's cut — / });
  await expect(async () => {
    await employeeSelect.selectOption({ label: employeeLabel });
    await expect(mensCut).toHaveCount(1, { timeout: 1_000 });
  }).toPass({ timeout: UI_TIMEOUT });
  await expect(mensCut).toHaveText("Men's cut — CHF 55.00");
  const value = await mensCut.getAttribute("value");
  expect(value, "the Men's cut option has a service id").toBeTruthy();
  await serviceSelect.selectOption(value as string);
  await expect(page.locator("input[name=price]")).toHaveValue("55.00", { timeout: UI_TIMEOUT });
}

async function serviceRecordCount(request: APIRequestContext, employeeId: string): Promise<number> {
  const response = await request.get(`/api/v1/service-records?employee_id=${employeeId}&limit=500`);
  expect(response.status()).toBe(200);
  return ((await response.json()) as unknown[]).length;
}

test.describe("Reception", () => {
  test("a receptionist registers a men's cut for Jonas Keller and it is owed to him", async ({ page, request }) => {
    const before = await employee(request, "Jonas Keller");

    await open(page, "/reception");
    await expect(page.getByRole("heading", { level: 1, name: "Register a service" })).toBeVisible();
    await chooseMensCut(page, "Jonas Keller (Salon Seefeld, Zürich)");

    await page.locator("input[name=tip]").fill("5");
    await expect(page.locator("input[name=payment_method][value=card]")).toBeChecked();
    await page.locator("input[name=payment_method][value=cash]").check();
    const performedOn = page.locator("input[name=performed_on]");
    await expect(performedOn).toHaveValue(/^\d{4}-\d{2}-\d{2}$/);
    const today = await performedOn.inputValue();

    await page.getByRole("button", { name: "Register service" }).click();

    const notice = successNotice(page);
    await expect(notice).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(notice).toContainText(`Registered: Men's cut for Jonas Keller on ${date(today)}, CHF 55.00`);
    await expect(notice).toContainText("tip CHF 5.00");
    await expect(page.locator("p.error")).toHaveCount(0);

    const newest = page.locator("#services table.records tbody tr").first();
    await expect(newest).toContainText("Jonas Keller", { timeout: UI_TIMEOUT });
    await expect(newest).toContainText("Men's cut");
    await expect(newest).toContainText("Cash");
    await expect(newest).toContainText("CHF 55.00");
    await expect(newest).toContainText("CHF 5.00");
    await expect(newest).toContainText("not yet");

    const after = await employee(request, "Jonas Keller");
    expect(after.unpaid_record_count).toBe(before.unpaid_record_count + 1);
  });

  test("a receptionist refunds a card service and it is no longer owed to the employee", async ({ page, request }) => {
    const before = await employee(request, "Mia Fischer");

    await open(page, "/reception");
    await chooseMensCut(page, `Mia Fischer (${before.studio_name})`);
    await page.getByRole("button", { name: "Register service" }).click();
    await expect(successNotice(page)).toContainText("Registered: Men's cut for Mia Fischer", { timeout: UI_TIMEOUT });
    const registered = await employee(request, "Mia Fischer");
    expect(registered.unpaid_record_count).toBe(before.unpaid_record_count + 1);

    const newest = page.locator("#services table.records tbody tr").first();
    await expect(newest).toContainText("Mia Fischer", { timeout: UI_TIMEOUT });
    await newest.getByRole("textbox", { name: /Refund reason for Men's cut of Mia Fischer/ }).fill("client changed her mind");
    await newest.getByRole("button", { name: "Refund" }).click();

    await expect(successNotice(page).filter({ hasText: "Refunded: Men's cut for Mia Fischer" })).toBeVisible({
      timeout: UI_TIMEOUT,
    });
    await expect(page.locator("p.error")).toHaveCount(0);
    const refundedRow = page.locator("#services table.records tbody tr.refunded").first();
    await expect(refundedRow).toContainText("refunded: client changed her mind", { timeout: UI_TIMEOUT });
    await expect(refundedRow.getByRole("button", { name: "Refund" })).toHaveCount(0);

    const after = await employee(request, "Mia Fischer");
    expect(after.unpaid_record_count).toBe(before.unpaid_record_count);
    expect(after.unpaid_total).toBe(before.unpaid_total);
  });

  test("a price that is not an amount is refused and nothing is registered", async ({ page, request }) => {
    const before = await employee(request, "Tim Frei");
    const recordsBefore = await serviceRecordCount(request, before.id);

    await open(page, "/reception");
    await chooseMensCut(page, "Tim Frei (Studio Marktgasse, Bern)");
    await page.locator("input[name=price]").fill("abc");
    await page.getByRole("button", { name: "Register service" }).click();

    const error = page.locator("p.error", { hasText: /price/i });
    await expect(error).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(error).toHaveAttribute("data-code", "validation_failed");
    await expect(error).toHaveAttribute("role", "alert");
    await expect(successNotice(page)).toHaveCount(0);

    const after = await employee(request, "Tim Frei");
    expect(after.unpaid_record_count).toBe(before.unpaid_record_count);
    expect(after.unpaid_total).toBe(before.unpaid_total);
    expect(await serviceRecordCount(request, before.id)).toBe(recordsBefore);
  });

  test("a receptionist records a working day with chair rent and it is deducted from what is owed", async ({ page, request }) => {
    const before = await employee(request, "Anna Huber");

    await open(page, "/reception");
    const form = page.locator("#days form");
    await expect(form).toBeVisible({ timeout: UI_TIMEOUT });
    await form.locator("select[name=employee_id]").selectOption({ label: "Anna Huber (Studio Marktgasse, Bern)" });
    // The demo records every working day until the end of October; take a November Monday.
    await form.locator("input[name=worked_on]").fill("2026-11-02");
    await form.locator("input[name=deduction]").fill("45.50");
    await form.locator("input[name=note]").fill("chair rent");
    await form.getByRole("button", { name: "Record working day" }).click();

    const notice = page.locator("#days p.notice.success");
    await expect(notice).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(notice).toContainText(`Recorded: Anna Huber worked on ${date("2026-11-02")} (deduction CHF 45.50`);
    const newest = page.locator("#days table.days tbody tr").first();
    await expect(newest).toContainText("Anna Huber", { timeout: UI_TIMEOUT });
    await expect(newest).toContainText("CHF 45.50");
    await expect(newest).toContainText("chair rent");

    const after = await employee(request, "Anna Huber");
    expect(after.unpaid_record_count).toBe(before.unpaid_record_count + 1);
    expect(after.unpaid_total).toBe(before.unpaid_total - 4_550);

    // The same day again is refused with the reason, and nothing more is owed or deducted.
    await expect(form.locator("input[name=idempotency_key]")).not.toHaveValue("", { timeout: UI_TIMEOUT });
    await form.locator("select[name=employee_id]").selectOption({ label: "Anna Huber (Studio Marktgasse, Bern)" });
    await form.locator("input[name=worked_on]").fill("2026-11-02");
    await form.getByRole("button", { name: "Record working day" }).click();
    const refusal = page.locator("#days p.error");
    await expect(refusal).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(refusal).toHaveAttribute("data-code", "day_already_recorded");
    await expect(refusal).toContainText("already recorded");
    const unchanged = await employee(request, "Anna Huber");
    expect(unchanged.unpaid_record_count).toBe(after.unpaid_record_count);
  });
});

import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { chf, commitButton, date, employee, open, preparePayout, successNotice, UI_TIMEOUT } from "./helpers";

// Works on Studio Marktgasse's till and David Baumann, whom no other test uses.
const STUDIO = "Studio Marktgasse, Bern";
const DENOMINATIONS = [100_000, 20_000, 10_000, 5_000, 2_000, 1_000, 500, 200, 100, 50, 20, 10, 5];


test("a day at the till: open, cash sales, cash in, a cash payout, close with a variance, Z report", async ({ page, request }) => {
  const david = await employee(request, "David Baumann");
  const today = new Date().toLocaleDateString("sv-SE", { timeZone: "Europe/Zurich" });

  // Open the till with a CHF 200.00 float.
  await open(page, "/till");
  await page.locator("select[name=studio]").selectOption({ label: STUDIO });
  const openForm = page.locator("#open-till form");
  await expect(openForm).toBeVisible({ timeout: UI_TIMEOUT });
  await openForm.locator("input[name=opening_float]").fill("200");
  await openForm.getByRole("button", { name: "Open till" }).click();
  const expected = page.locator("#till .expected");
  await expect(expected).toHaveText("The drawer should hold CHF 200.00.", { timeout: UI_TIMEOUT });

  // Two cash sales registered at reception (through the API here; the form has its own test).
  const catalogue = await request.get(`/api/v1/service-records?employee_id=${david.id}&limit=1`);
  const last = ((await catalogue.json()) as { service_id: string }[])[0];
  for (const [price, tip] of [[6_500, 500], [4_500, 0]]) {
    const response = await request.post("/api/v1/service-records", {
      headers: { "Idempotency-Key": randomUUID() },
      data: { employee_id: david.id, service_id: last.service_id, price, tip, payment_method: "cash", performed_on: today },
    });
    expect(response.status()).toBe(201);
  }

  // Cash in from the safe, so the till can pay David in cash.
  await open(page, "/till");
  await page.locator("select[name=studio]").selectOption({ label: STUDIO });
  const movement = page.locator("#movement-form");
  await expect(movement).toBeVisible({ timeout: UI_TIMEOUT });
  await movement.locator("input[name=amount]").fill("10000");
  await movement.locator("input[name=reason]").fill("change fund from the safe");
  await movement.getByRole("button", { name: "Record cash movement" }).click();
  await expect(expected).toHaveText("The drawer should hold CHF 10'315.00.", { timeout: UI_TIMEOUT });

  // Pay David in cash from the owner page.
  await preparePayout(page, "David Baumann");
  await page.locator("#prepare input[name=method][value=cash]").check();
  await commitButton(page).click();
  await expect(successNotice(page)).toBeVisible({ timeout: UI_TIMEOUT });
  const paid = await employee(request, "David Baumann");
  expect(paid.unpaid_record_count).toBe(0);
  const payouts = (await (await request.get(`/api/v1/payouts?employee_id=${david.id}&state=committed`)).json()) as {
    method: string;
    total: number;
  }[];
  const cashPayout = payouts.find((p) => p.method === "cash");
  expect(cashPayout, "the committed cash payout").toBeDefined();
  const owed = (cashPayout as { total: number }).total;

  // Count the drawer five francs short.
  await open(page, "/till");
  await page.locator("select[name=studio]").selectOption({ label: STUDIO });
  const expectedCash = 1_031_500 - owed;
  await expect(expected).toHaveText(`The drawer should hold ${chf(expectedCash)}.`, { timeout: UI_TIMEOUT });
  let left = expectedCash - 500;
  const close = page.locator("#close-form");
  for (const d of DENOMINATIONS) {
    if (left >= d) {
      await close.locator(`input[name="denominations[${d}]"]`).fill(String(Math.floor(left / d)));
      left %= d;
    }
  }
  expect(left).toBe(0);
  await close.getByRole("button", { name: "Close till" }).click();
  const refusal = page.locator("p.error[data-code=validation_failed]");
  await expect(refusal).toContainText("short by CHF 5.00", { timeout: UI_TIMEOUT });

  await close.locator("input[name=variance_reason]").fill("change given twice");
  await close.getByRole("button", { name: "Close till" }).click();
  const report = page.locator("#z-report");
  await expect(report).toBeVisible({ timeout: UI_TIMEOUT });
  await expect(report.locator("h2")).toContainText(`Z report — ${STUDIO}, ${date(today)}`);
  await expect(report.locator(".expected")).toHaveText(chf(expectedCash));
  await expect(report.locator(".counted")).toHaveText(chf(expectedCash - 500));
  await expect(report.locator(".variance")).toHaveText(`${chf(-500)} (change given twice)`);
  await expect(report).toContainText("Cash payouts");
  await expect(report).toContainText(chf(owed));
  await expect(report.getByRole("button", { name: "Print" })).toBeVisible();

  // The day is final: the audit finds the till matching its postings.
  const audit = await request.post("/api/v1/audits", { data: {} });
  expect(audit.status()).toBe(201);
  const result = (await audit.json()) as { findings: { check: string }[] };
  expect(result.findings.filter((f) => f.check === "till_mismatch")).toEqual([]);
});

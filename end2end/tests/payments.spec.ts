import { expect, test } from "@playwright/test";
import { chf, employee, hydrated, open, UI_TIMEOUT } from "./helpers";

// Works on its own provider payment ids ("e2e-…"), which no other test uses.

test("a provider's events show on the payments page, which offers only the legal actions", async ({ browser, baseURL, page, request }) => {
  const studioId = (await employee(request, "Lara Meier")).studio_id;
  const payment = `e2e-${Date.now()}`;
  // Captured a minute ago: its card settlement is expected in the coming business days, never
  // overdue (a fixed date in the past made it overdue, and the settlement banner showed it to the
  // later specs, once the calendar passed it).
  const minuteAgo = Date.now() - 60_000;
  const event = (event_type: string, amount: number, second: number) => ({
    provider: "sumup",
    provider_payment_id: payment,
    event_type,
    amount,
    currency: "CHF",
    occurred_at: new Date(minuteAgo + second * 1_000).toISOString(),
    studio_id: studioId,
  });
  // The capture arrives before its authorisation; an over-refund cannot apply.
  const delivered = await request.post("/api/v1/payment-events/batch", {
    data: { events: [event("captured", 4_500, 2), event("authorized", 4_500, 1), event("partially_refunded", 9_900, 3)] },
  });
  expect(delivered.status(), await delivered.text()).toBe(200);
  expect((await delivered.json()).accepted).toBe(3);

  // The server's worker applies the inbox by itself.
  await expect
    .poll(async () => (await (await request.get("/api/v1/payment-events/summary")).json()).received, { timeout: UI_TIMEOUT })
    .toBe(0);

  await open(page, "/payments");
  const row = page.locator(`table.payments tr[data-payment="${payment}"]`);
  await expect(row).toHaveAttribute("data-state", "succeeded", { timeout: UI_TIMEOUT });
  await expect(row.getByRole("button", { name: "Refund part" })).toBeVisible();
  await expect(row.getByRole("button", { name: "Capture" })).toHaveCount(0);
  await row.locator("details.refused-actions summary").click();
  await expect(row.locator("details.refused-actions")).toContainText("Capture: the payment is already captured");
  await expect(page.locator("table.parked-events")).toContainText("over the captured amount");
  // The same parked event for an owner whose browser asks for German: the reason is worded in
  // German from the data the server stores with it, amounts in Swiss German format.
  const german = await browser.newContext({
    baseURL,
    locale: "de-CH",
    storageState: await page.context().storageState(),
    extraHTTPHeaders: { Origin: baseURL ?? "" },
  });
  try {
    const inGerman = await german.newPage();
    await inGerman.goto("/payments");
    await hydrated(inGerman);
    await expect(inGerman.locator("html")).toHaveAttribute("lang", "de");
    await expect(inGerman.locator("table.parked-events tr", { hasText: payment })).toContainText(
      `${chf(9_900, "de")} ist mehr als der noch erstattbare belastete Betrag (${chf(4_500, "de")} von ${chf(4_500, "de")})`,
      { timeout: UI_TIMEOUT },
    );
  } finally {
    await german.close();
  }

  // Refund CHF 5.00 of it from the page.
  const refund = row.locator("form.payment-action").filter({ has: page.getByRole("button", { name: "Refund part" }) });
  await refund.locator("input[name=amount]").fill("5.00");
  await refund.getByRole("button", { name: "Refund part" }).click();
  await expect(page.locator("p.notice")).toContainText(`Payment ${payment} is now partially_refunded`, { timeout: UI_TIMEOUT });
  await expect(page.locator(`table.payments tr[data-payment="${payment}"]`)).toHaveAttribute("data-state", "partially_refunded", {
    timeout: UI_TIMEOUT,
  });
});

import { expect, test } from "@playwright/test";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { employee, open, UI_TIMEOUT } from "./helpers";

// Works on Elena Rossi's payout, which no other test touches. The server runs with
// PAYOUT_ENGINE_WEBHOOK_ALLOW_DESTINATIONS=loopback (scripts/e2e.sh) so it may reach the
// receiver this test starts on 127.0.0.1.

interface Delivery {
  id: string;
  type: string;
}

/** A webhook receiver that answers each request with the next status of `answers`, then 200. */
async function startReceiver(answers: number[]): Promise<{ url: string; received: Delivery[]; close: () => void }> {
  const received: Delivery[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push({ id: String(req.headers["webhook-id"]), type: JSON.parse(body).type });
      const status = answers.shift() ?? 200;
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(`receiver says ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received, close: () => server.close() };
}

test("the owner adds an endpoint, a committed payout arrives with its receipt, and a dead-lettered message is redriven", async ({
  page,
  request,
}) => {
  // The first delivery is answered 410 Gone: the message is dead-lettered, the endpoint disabled.
  const receiver = await startReceiver([410]);
  try {
    await open(page, "/webhooks");
    const form = page.locator("form.webhook-add");
    await form.locator("input[name=url]").fill(receiver.url);
    await form.locator("input[name=description]").fill("e2e receiver");
    await form.locator("input[name=event_types]").fill("payout.committed");
    await form.getByRole("button", { name: "Add endpoint" }).click();
    await expect(page.locator("p.notice", { hasText: "signing secret is whsec_" })).toBeVisible({ timeout: UI_TIMEOUT });
    const card = page.locator(`section.webhook-endpoint[data-url="${receiver.url}"]`);
    await expect(card).toHaveAttribute("data-enabled", "true", { timeout: UI_TIMEOUT });

    const elena = await employee(request, "Elena Rossi");
    const committed = await request.post("/api/v1/payouts", {
      headers: { "Idempotency-Key": crypto.randomUUID() },
      data: { employee_id: elena.id, period_start: elena.oldest_unpaid_on, period_end: elena.newest_unpaid_on },
    });
    expect(committed.status(), await committed.text()).toBe(201);

    await expect.poll(() => receiver.received.length, { timeout: UI_TIMEOUT }).toBe(1);
    expect(receiver.received[0].type).toBe("payout.committed");
    const row = card.locator('table.webhook-messages tr[data-type="payout.committed"]');
    await expect(async () => {
      await open(page, "/webhooks");
      await expect(row).toHaveAttribute("data-state", "dead_lettered", { timeout: 1_000 });
    }).toPass({ timeout: UI_TIMEOUT });
    await expect(card).toHaveAttribute("data-enabled", "false");
    await expect(card).toContainText("disabled: the endpoint answered 410 Gone");
    await expect(row.locator("ol.receipts")).toContainText("HTTP 410");

    // Enable it again and redrive the dead-letter queue: delivered, with the same webhook-id.
    await card.getByRole("button", { name: "Enable" }).click();
    await expect(page.locator("p.notice", { hasText: "is now enabled" })).toBeVisible({ timeout: UI_TIMEOUT });
    await card.getByRole("button", { name: /Redrive dead-letter queue/ }).click();
    await expect(page.locator("p.notice", { hasText: "1 dead-lettered message(s) scheduled again." })).toBeVisible({
      timeout: UI_TIMEOUT,
    });
    await expect.poll(() => receiver.received.length, { timeout: UI_TIMEOUT }).toBe(2);
    expect(receiver.received[1].id).toBe(receiver.received[0].id);
    await expect(async () => {
      await open(page, "/webhooks");
      await expect(row).toHaveAttribute("data-state", "delivered", { timeout: 1_000 });
    }).toPass({ timeout: UI_TIMEOUT });
    await expect(row.locator("ol.receipts")).toContainText("HTTP 410");
    await expect(row.locator("ol.receipts")).toContainText("HTTP 200");
  } finally {
    receiver.close();
  }
});

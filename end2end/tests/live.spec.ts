import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { employee, UI_TIMEOUT } from "./helpers";

// Works on the payouts of Leonie Graf (Bern) and Noah Weber (Zürich), whom no other test uses.
//
// The Live page keeps an EventSource open, so the network is never idle: these tests do not use
// `open()`/`hydrated()`. The feed state turning "live" is the sign of hydration instead: only the
// browser opens the stream, after hydration, and only its `ready` event makes the page say "live".

const ZURICH = "Salon Seefeld, Zürich";
const BERN = "Studio Marktgasse, Bern";

/** What the tests add to the Live page's window (see `watchEventSources`). */
interface LiveHooks {
  /** Every EventSource the page opened, oldest first. */
  eventSources: EventSource[];
  /** Animation frame callbacks held back by `holdFrames`. */
  heldFrames: FrameRequestCallback[];
  /** `message` events counted by `countMessages`. */
  received: number;
}

/**
 * Before the page's scripts run: records every EventSource the page opens, so a test can listen
 * to the very connection the page reads (listeners run in the order they were added, the page's
 * first) or close it.
 */
async function watchEventSources(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const hooks = window as unknown as LiveHooks;
    hooks.eventSources = [];
    hooks.heldFrames = [];
    hooks.received = 0;
    const Native = window.EventSource;
    window.EventSource = class extends Native {
      constructor(url: string | URL, init?: EventSourceInit) {
        super(url, init);
        hooks.eventSources.push(this);
      }
    };
  });
}

/** Unnamed (`message`) events the page's current EventSource received since this call. */
async function countMessages(page: Page): Promise<() => Promise<number>> {
  await page.evaluate(() => {
    const hooks = window as unknown as LiveHooks;
    hooks.eventSources[hooks.eventSources.length - 1].addEventListener("message", () => (hooks.received += 1));
  });
  return () => page.evaluate(() => (window as unknown as LiveHooks).received);
}

/** Opens /live and waits until its stream is live. */
async function openLive(page: Page): Promise<void> {
  await page.goto("/live");
  await expect(page.getByTestId("feed-state")).toHaveAttribute("data-state", "live", { timeout: UI_TIMEOUT });
}

/**
 * Commits the employee's whole unpaid period through the JSON API (the owner's session) and
 * returns when the answer is in: the moment the change is committed.
 */
async function commitPayoutOf(request: APIRequestContext, name: string): Promise<void> {
  const person = await employee(request, name);
  expect(person.unpaid_record_count, `${name} has unpaid records`).toBeGreaterThan(0);
  const committed = await request.post("/api/v1/payouts", {
    headers: { "Idempotency-Key": crypto.randomUUID() },
    data: { employee_id: person.id, period_start: person.oldest_unpaid_on, period_end: person.newest_unpaid_on },
  });
  expect(committed.status(), await committed.text()).toBe(201);
}

/** Selects a filter and waits until the page has opened the stream again with `query` in its URL. */
async function filter(page: Page, label: string, option: { label: string } | string, query: string): Promise<void> {
  const reopened = page.waitForRequest((request) => request.url().includes(`/api/v1/events/stream?${query}`), {
    timeout: UI_TIMEOUT,
  });
  await page.getByLabel(label).selectOption(option);
  await reopened;
  await expect(page.getByTestId("feed-state")).toHaveAttribute("data-state", "live", { timeout: UI_TIMEOUT });
}

/** Authorisations of `count` new card payments in the Zürich studio, delivered as one batch. */
async function authorizePayments(request: APIRequestContext, count: number): Promise<void> {
  const studioId = (await employee(request, "Noah Weber")).studio_id;
  const run = `e2e-live-${Date.now()}`;
  const events = Array.from({ length: count }, (_, i) => ({
    provider: "sumup",
    provider_payment_id: `${run}-${i}`,
    event_type: "authorized",
    amount: 1_000 + i,
    currency: "CHF",
    occurred_at: new Date(Date.UTC(2026, 10, 21, 10, 0, 0, i)).toISOString(),
    studio_id: studioId,
  }));
  const delivered = await request.post("/api/v1/payment-events/batch", { data: { events } });
  expect(delivered.status(), await delivered.text()).toBe(200);
  expect((await delivered.json()).accepted).toBe(count);
}

test.describe("Live feed", () => {
  test("a committed payout appears on the Live page within a second", async ({ page, request }) => {
    await openLive(page);
    await expect(page.getByTestId("feed-state")).toContainText("live");
    const dropped = page.getByTestId("dropped");
    await expect(dropped).toHaveAttribute("data-dropped", "0");
    await expect(dropped).toContainText("0 events dropped (server: 0, this page: 0)");

    await commitPayoutOf(request, "Leonie Graf");
    // Measured from the commit's answer.
    const row = page.locator('[data-testid="live-row"][data-type="payout.committed"]', { hasText: "Leonie Graf" });
    await expect(row).toBeVisible({ timeout: 1_000 });

    await expect(row).toHaveAttribute("data-id", /^\d+$/);
    await expect(row).toContainText(BERN);
    await expect(row).toContainText("committed");
    // The payout's creation came first and is listed below it (newest first).
    const types = await page.getByTestId("live-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-type")));
    expect(types.indexOf("payout.committed")).toBeLessThan(types.indexOf("payout.created"));
    await expect(dropped).toHaveAttribute("data-dropped", "0");
  });

  test("the filters reopen the stream with the filter in its query and start over", async ({ page, request }) => {
    await openLive(page);
    await filter(page, "Event types", "payout.*", "types=payout.*");
    const zurich = await page.getByLabel("Studio").locator("option", { hasText: ZURICH }).getAttribute("value");
    await filter(page, "Studio", { label: ZURICH }, `types=payout.*&studio_id=${zurich}`);

    await commitPayoutOf(request, "Noah Weber");
    const rows = page.getByTestId("live-row");
    const noah = page.locator('[data-testid="live-row"][data-type="payout.committed"]', { hasText: "Noah Weber" });
    await expect(noah).toBeVisible({ timeout: 1_000 });
    for (const row of await rows.all()) {
      await expect(row).toHaveAttribute("data-type", /^payout\./);
      await expect(row).toContainText(ZURICH);
    }

    // Another studio: a new stream, the rows and counters cleared.
    const bern = await page.getByLabel("Studio").locator("option", { hasText: BERN }).getAttribute("value");
    await filter(page, "Studio", { label: BERN }, `types=payout.*&studio_id=${bern}`);
    await expect(rows).toHaveCount(0);
    await expect(page.getByTestId("dropped")).toHaveAttribute("data-dropped", "0");
  });

  test("events that come faster than the page draws are dropped oldest first and counted", async ({ page, request }) => {
    await watchEventSources(page);
    await openLive(page);
    await filter(page, "Event types", "payment.*", "types=payment.*");
    const received = await countMessages(page);
    // Hold every animation frame: the page queues what arrives and draws nothing until a frame.
    await page.evaluate(() => {
      const hooks = window as unknown as LiveHooks;
      window.requestAnimationFrame = (callback) => hooks.heldFrames.push(callback);
    });

    await authorizePayments(request, 250);
    await expect.poll(received, { timeout: UI_TIMEOUT }).toBe(250);
    const rows = page.getByTestId("live-row");
    await expect(rows).toHaveCount(0);

    // One frame was asked for (the first event of the batch); it draws the newest 200 at once.
    expect(await page.evaluate(() => (window as unknown as LiveHooks).heldFrames.length)).toBe(1);
    await page.evaluate(() => {
      for (const frame of (window as unknown as LiveHooks).heldFrames.splice(0)) frame(performance.now());
    });
    await expect(rows).toHaveCount(200);
    const dropped = page.getByTestId("dropped");
    await expect(dropped).toHaveAttribute("data-dropped", "50");
    await expect(dropped).toContainText("50 events dropped (server: 0, this page: 50)");
    const ids = (await rows.evaluateAll((all) => all.map((r) => Number(r.getAttribute("data-id"))))) as number[];
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(200);
  });

  test("after the connection is lost, Reconnect resumes from the last event and loses nothing", async ({ page, request }) => {
    await watchEventSources(page);
    await openLive(page);
    const state = page.getByTestId("feed-state");
    const upTo = Number(/read up to event #(\d+)/.exec(await state.innerText())?.[1]);
    expect(Number.isInteger(upTo), `the state line says how far the page read: ${await state.innerText()}`).toBe(true);

    // Close the page's EventSource the way the browser does when the server refuses it.
    await page.evaluate(() => {
      const hooks = window as unknown as LiveHooks;
      const source = hooks.eventSources[hooks.eventSources.length - 1];
      source.close();
      source.dispatchEvent(new Event("error"));
    });
    await expect(state).toHaveAttribute("data-state", "closed", { timeout: UI_TIMEOUT });
    await expect(state).toContainText("disconnected");

    // Meanwhile a payment is authorised (written to the event log once the worker applies it).
    await authorizePayments(request, 1);
    await expect
      .poll(async () => (await (await request.get("/api/v1/payment-events/summary")).json()).received, { timeout: UI_TIMEOUT })
      .toBe(0);

    await page.getByRole("button", { name: "Reconnect" }).click();
    await expect(state).toHaveAttribute("data-state", "resumed", { timeout: UI_TIMEOUT });
    await expect(state).toContainText(`live (resumed from #${upTo})`);
    await expect(page.locator('[data-testid="live-row"][data-type="payment.authorized"]')).toHaveCount(1, {
      timeout: UI_TIMEOUT,
    });
    await expect(page.getByRole("button", { name: "Reconnect" })).toHaveCount(0);
  });
});

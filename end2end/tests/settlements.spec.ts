import { randomUUID } from "node:crypto";
import { expect, test, type APIRequestContext, type Locator, type Page } from "@playwright/test";
import { chf, commitBankPayout, date, employee, hydrated, LARA_LOGIN, open, signedInContext, today, UI_TIMEOUT } from "./helpers";

// Runs as the demo owner. The demo commits September as bank payouts for everyone but Lara Meier
// (11 scheduled transfers); earlier specs add their own payouts (Lara Meier, Sofia Brunner, Noah
// Weber...), so these tests read what is there through the JSON API instead of assuming counts,
// and create what they need when it is missing (a bank file, a payout). They work on the Zürich
// studio's transfers; Noah Weber has no IBAN there, so every Zürich bank file skips him.

const ZURICH = "Salon Seefeld, Zürich";
const ZURICH_IBAN = "CH9300762011623852957";
const BERN = "Studio Marktgasse, Bern";
const BERN_IBAN = "CH8900235000012345678";
/** A QR-IBAN from the SIX QR-bill examples (institution id 31999): it only receives QR-bill payments. */
const QR_IBAN = "CH44 3199 9123 0008 8901 2";
/** The demo employees whose September is committed as a bank payout at seed. */
const SEPTEMBER_PAID = [
  "Jonas Keller",
  "Sofia Brunner",
  "Mia Fischer",
  "Noah Weber",
  "Elena Rossi",
  "Luca Schmid",
  "Anna Huber",
  "Leonie Graf",
  "David Baumann",
  "Chiara Moser",
  "Tim Frei",
];

/** `SettlementItem` of `GET /api/v1/settlements` (the fields the tests read). */
interface SettlementItem {
  id: string;
  kind: "bank_payout" | "card_payment";
  studio_id: string;
  batch_id: string | null;
  payout_id: string | null;
  employee_id: string | null;
  counterparty: string;
  end_to_end_id: string;
  /** Rappen. */
  amount: number;
  state: "scheduled" | "in_transit" | "settled" | "failed" | "needs_reconciliation" | "reissued" | "written_off";
  expected_on: string;
  business_days_left: number;
  overdue: boolean;
  reason: string | null;
  note: string | null;
  reissue_of: string | null;
  version: number;
}

/** `GET /api/v1/settlements`. */
interface Overview {
  attention: SettlementItem[];
  in_transit: SettlementItem[];
  recent: SettlementItem[];
  batches: { id: string; studio_id: string; reference: string; item_count: number; total: number; state: string }[];
  unmatched_lines: { id: string }[];
  /** Rappen. */
  in_transit_total: number;
}

/** The countdown the page shows for a transfer on its way. */
function countdown(item: SettlementItem): string {
  if (item.overdue) return `overdue since ${date(item.expected_on)}`;
  if (item.business_days_left === 0) return "due today";
  if (item.business_days_left === 1) return "arrives in 1 business day";
  return `arrives in ${item.business_days_left} business days`;
}

async function overview(request: APIRequestContext): Promise<Overview> {
  const response = await request.get("/api/v1/settlements");
  expect(response.status(), await response.text()).toBe(200);
  return (await response.json()) as Overview;
}

async function zurichId(request: APIRequestContext): Promise<string> {
  return (await employee(request, "Jonas Keller")).studio_id;
}

/** Zürich bank payouts waiting for a bank file that can go into one (their employee has an IBAN). */
function sendable(o: Overview, studio: string): SettlementItem[] {
  return o.in_transit.filter(
    (i) => i.studio_id === studio && i.kind === "bank_payout" && i.state === "scheduled" && i.counterparty !== "Noah Weber",
  );
}

/** The page's section (a labelled region) called `name`. */
function section(page: Page, name: string): Locator {
  return page.getByRole("region", { name, exact: true });
}

/** A camt.053.001.08 entry: `[direction, rappen, end-to-end id, return reason]`. */
type Entry = ["DBIT" | "CRDT", number, string, string | null];

/** A camt.053.001.08 statement of `iban` booked today, one transaction per entry. */
function statement(messageId: string, iban: string, entries: Entry[]): string {
  const amount = (rappen: number) => `${Math.floor(rappen / 100)}.${(rappen % 100).toString().padStart(2, "0")}`;
  const day = today();
  const body = entries
    .map(
      ([direction, rappen, e2e, reason]) =>
        `<Ntry><Amt Ccy="CHF">${amount(rappen)}</Amt><CdtDbtInd>${direction}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>` +
        `<BookgDt><Dt>${day}</Dt></BookgDt><ValDt><Dt>${day}</Dt></ValDt>` +
        `<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>AUTT</SubFmlyCd></Fmly></Domn></BkTxCd>` +
        `<NtryDtls><TxDtls><Refs><EndToEndId>${e2e}</EndToEndId></Refs><Amt Ccy="CHF">${amount(rappen)}</Amt>` +
        (reason ? `<RtrInf><Rsn><Cd>${reason}</Cd></Rsn></RtrInf>` : "") +
        `</TxDtls></NtryDtls></Ntry>`,
    )
    .join("");
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>` +
    `<GrpHdr><MsgId>${messageId}</MsgId><CreDtTm>${day}T18:00:00+01:00</CreDtTm></GrpHdr>` +
    `<Stmt><Id>${messageId}-1</Id><CreDtTm>${day}T18:00:00+01:00</CreDtTm>` +
    `<Acct><Id><IBAN>${iban}</IBAN></Id><Ccy>CHF</Ccy></Acct>${body}</Stmt></BkToCstmrStmt></Document>`
  );
}

test.describe("Settlements", () => {
  test("scheduled payouts show their countdown, and the Zürich bank file is a pain.001 with every transfer", async ({
    page,
    request,
  }) => {
    const zurich = await zurichId(request);
    let before = await overview(request);
    if (sendable(before, zurich).length === 0) {
      // Another test sent them already: a new payout gives this one something to send.
      await commitBankPayout(request, "Mia Fischer");
      before = await overview(request);
    }
    const expected = sendable(before, zurich);

    await open(page, "/settlements");
    await expect(page.getByRole("heading", { level: 1, name: "Settlements" })).toBeVisible();

    // In transit: every scheduled or sent transfer, with its countdown, and the total.
    const inTransit = section(page, "In transit");
    const rows = inTransit.locator("table.in-transit tbody tr");
    await expect(rows).toHaveCount(before.in_transit.length, { timeout: UI_TIMEOUT });
    for (const item of before.in_transit) {
      const row = inTransit.locator(`tr[data-item-id="${item.id}"]`);
      await expect(row).toContainText(item.counterparty);
      await expect(row).toContainText(chf(item.amount));
      await expect(row).toContainText(date(item.expected_on));
      await expect(row).toContainText(countdown(item));
      await expect(row).toContainText(item.end_to_end_id);
    }
    await expect(inTransit.locator("p.in-transit-total")).toContainText(`${chf(before.in_transit_total)} in total`);
    // The demo's September payouts are there (or, when another test ran first, settled already).
    const seen = new Set([...before.in_transit, ...before.recent, ...before.attention].map((i) => i.counterparty));
    for (const name of SEPTEMBER_PAID) expect(seen, name).toContain(name);
    const scheduledNames = await inTransit.locator('tbody tr[data-state="scheduled"] td:first-child').allInnerTexts();
    expect(scheduledNames).toEqual(expect.arrayContaining(expected.map((i) => i.counterparty)));

    // Write the Zürich bank file.
    const files = section(page, "Bank files");
    await files.getByRole("combobox", { name: "Studio" }).selectOption({ label: ZURICH });
    await files.getByRole("button", { name: "Write bank file" }).click();
    const result = files.locator(".bank-file-result");
    const transfers = expected.length === 1 ? "1 transfer" : `${expected.length} transfers`;
    await expect(result).toContainText(`written: ${transfers}, ${chf(expected.reduce((sum, i) => sum + i.amount, 0))}`, {
      timeout: UI_TIMEOUT,
    });
    await expect(result.locator("ul.skipped li").filter({ hasText: /^Noah Weber: no IBAN/ }).first()).toBeVisible();
    const batchId = (await result.getAttribute("data-batch-id")) ?? "";
    expect(batchId).not.toBe("");

    // The transfers are in transit now, in that file.
    const after = await overview(request);
    const sent = after.in_transit.filter((i) => i.batch_id === batchId);
    expect(sent.map((i) => i.id).sort()).toEqual(expected.map((i) => i.id).sort());
    expect(sent.every((i) => i.state === "in_transit")).toBe(true);
    for (const item of sent) {
      await expect(inTransit.locator(`tr[data-item-id="${item.id}"]`)).toHaveAttribute("data-state", "in_transit", {
        timeout: UI_TIMEOUT,
      });
    }
    const batchRow = files.locator(`table.bank-files tr[data-batch-id="${batchId}"]`);
    await expect(batchRow).toContainText("In transit", { timeout: UI_TIMEOUT });
    await expect(batchRow).toContainText(ZURICH);

    // The download: a pain.001 carrying each transfer's end-to-end id.
    const link = result.getByRole("link", { name: "Download the bank file (pain.001)" });
    await expect(link).toHaveAttribute("download", "");
    const href = (await link.getAttribute("href")) ?? "";
    expect(href).toBe(`/api/v1/bank-files/${batchId}/pain.001.xml`);
    const download = await page.request.get(href);
    expect(download.status()).toBe(200);
    expect(download.headers()["content-type"]).toContain("application/xml");
    const xml = await download.text();
    expect(xml).toContain("urn:iso:std:iso:20022:tech:xsd:pain.001.001.09");
    expect(xml).toContain(ZURICH_IBAN);
    for (const item of sent) expect(xml).toContain(`<EndToEndId>${item.end_to_end_id}</EndToEndId>`);
    expect(xml.match(/<EndToEndId>/g)).toHaveLength(sent.length);
  });

  test("an imported statement settles two transfers and fails a returned one, which is reissued with the bank's word", async ({
    page,
    request,
  }) => {
    const zurich = await zurichId(request);
    const onTheirWay = (o: Overview) =>
      o.in_transit.filter((i) => i.studio_id === zurich && i.kind === "bank_payout" && i.state === "in_transit");
    let sent = onTheirWay(await overview(request));
    if (sent.length < 4) {
      // No bank file yet (this test alone): write one through the API.
      if (sendable(await overview(request), zurich).length < 4) await commitBankPayout(request, "Mia Fischer");
      const file = await request.post("/api/v1/bank-files", {
        headers: { "Idempotency-Key": randomUUID() },
        data: { studio_id: zurich },
      });
      expect(file.status(), await file.text()).toBe(201);
      sent = onTheirWay(await overview(request));
    }
    expect(sent.length, "four Zürich transfers in transit").toBeGreaterThanOrEqual(4);
    const [paid, alsoPaid, returned, short] = sent;

    // The bank's statement: two debits with their exact amounts, a return of the third, and the
    // fourth debited with CHF 1.00 more than the payout.
    const xml = statement(`E2E-STMT-${Date.now()}`, ZURICH_IBAN, [
      ["DBIT", paid.amount, paid.end_to_end_id, null],
      ["DBIT", alsoPaid.amount, alsoPaid.end_to_end_id, null],
      ["CRDT", returned.amount, returned.end_to_end_id, "AC04"],
      ["DBIT", short.amount + 100, short.end_to_end_id, null],
    ]);
    await open(page, "/settlements");
    const importing = section(page, "Import bank statement");
    await importing.getByLabel("Bank statement file").setInputFiles({
      name: "statement.xml",
      mimeType: "application/xml",
      buffer: Buffer.from(xml, "utf-8"),
    });
    await expect(importing.getByRole("status").filter({ hasText: "imported" })).toContainText(
      "2 settled, 1 failed, 1 needs reconciliation, 0 unmatched",
      { timeout: UI_TIMEOUT },
    );

    // Every page with the attention banner now says which transfers need the owner.
    await open(page, "/");
    const banner = page.locator("section.settlement-banner");
    await expect(banner).toContainText("AC04", { timeout: UI_TIMEOUT });
    await expect(banner).toContainText("the bank debited");
    await expect(banner.getByRole("link", { name: /Open Settlements/ })).toHaveAttribute("href", "/settlements");
    await open(page, "/settlements");

    // The returned transfer needs attention, with the bank's reason.
    const attention = section(page, "Needs attention");
    const item = attention.locator(`article[data-item-id="${returned.id}"]`);
    await expect(item).toBeVisible({ timeout: UI_TIMEOUT });
    await expect(item).toHaveAttribute("data-state", "failed");
    await expect(item).toContainText(returned.counterparty);
    await expect(item).toContainText("Failed");
    await expect(item).toContainText("AC04");
    // Only the ways out of a failure are offered; the others say why not.
    await expect(item.getByRole("button", { name: "Reissue" })).toBeVisible();
    await expect(item.getByRole("button", { name: "Resolve as paid" })).toBeVisible();
    await expect(item.getByRole("button", { name: "Write off" })).toBeVisible();
    await expect(item.getByRole("button", { name: "Confirm settled" })).toHaveCount(0);
    await expect(item.locator("details.refused-actions")).toContainText("Confirm settled: it failed; if the bank says it reached the payee after all, resolve it as paid");
    const settled = (await overview(request)).recent.map((i) => [i.id, i.state]);
    expect(settled).toEqual(expect.arrayContaining([[paid.id, "settled"], [alsoPaid.id, "settled"]]));
    await hydrated(page);

    // Reissue without the bank's reference: refused, with the reason.
    await item.getByRole("button", { name: "Reissue" }).click();
    await expect(page.locator("p.error").first()).toContainText("Bank reference: record the bank's reference", {
      timeout: UI_TIMEOUT,
    });
    await expect(item).toHaveAttribute("data-state", "failed");

    // With the reference and what the bank said: reissued, and a new transfer is scheduled.
    await item.getByLabel("Bank reference").fill("ZKB case 2026-4711");
    await item.getByLabel("What the bank said").fill("Account closed (AC04); the employee gave her new account by phone.");
    await item.getByRole("button", { name: "Reissue" }).click();
    await expect(page.getByRole("status").filter({ hasText: "now reissued" })).toContainText(
      `${returned.counterparty}, ${chf(returned.amount)}: now reissued. A new transfer is scheduled for the next bank file.`,
      { timeout: UI_TIMEOUT },
    );
    await expect(attention.locator(`article[data-item-id="${returned.id}"]`)).toHaveCount(0, { timeout: UI_TIMEOUT });

    const now = await overview(request);
    expect(now.recent.find((i) => i.id === returned.id)?.state).toBe("reissued");
    const reissue = now.in_transit.find((i) => i.reissue_of === returned.id);
    expect(reissue, "the new transfer").toBeDefined();
    expect(reissue).toMatchObject({
      state: "scheduled",
      employee_id: returned.employee_id,
      counterparty: returned.counterparty,
      amount: returned.amount,
    });
    const newRow = section(page, "In transit").locator(`tr[data-item-id="${reissue?.id}"]`);
    await expect(newRow).toHaveAttribute("data-state", "scheduled", { timeout: UI_TIMEOUT });
    await expect(newRow).toContainText(returned.counterparty);
    await expect(newRow).toContainText("Scheduled");
    await expect(newRow).toContainText(chf(returned.amount));

    // The transfer debited with another amount is confirmed by hand against its statement line,
    // with a note of what the bank said.
    const flagged = attention.locator(`article[data-item-id="${short.id}"]`);
    await expect(flagged).toHaveAttribute("data-state", "needs_reconciliation");
    await expect(flagged).toContainText("the bank debited");
    const line = await flagged.locator("option", { hasText: short.end_to_end_id }).getAttribute("value");
    expect(line, "the mismatched statement line is offered").toBeTruthy();
    await flagged.getByLabel("Statement line that shows it (to confirm)").selectOption(line ?? "");
    const note = "The bank charged CHF 1.00 for the transfer; the employee received the full payout.";
    await flagged.getByLabel("What the bank said").fill(note);
    await flagged.getByRole("button", { name: "Confirm settled" }).click();
    await expect(attention.locator(`article[data-item-id="${short.id}"]`)).toHaveCount(0, { timeout: UI_TIMEOUT });
    const confirmed = (await overview(request)).recent.find((i) => i.id === short.id);
    expect(confirmed).toMatchObject({ state: "settled", note });
    await open(page, "/");
    await expect(page.locator("section.settlement-banner")).toHaveCount(0, { timeout: UI_TIMEOUT });
    await open(page, "/settlements");

    // The same file again changes nothing.
    await importing.getByLabel("Bank statement file").setInputFiles({
      name: "statement.xml",
      mimeType: "application/xml",
      buffer: Buffer.from(xml, "utf-8"),
    });
    await expect(importing.getByRole("status").filter({ hasText: "imported before" })).toContainText(
      "this file was imported before: nothing changed",
      { timeout: UI_TIMEOUT },
    );
  });

  test("a statement being imported shows how many of its lines are matched, then what it did", async ({ page }) => {
    await open(page, "/settlements");
    await hydrated(page);
    const messageId = `E2E-PROGRESS-${Date.now()}`;
    // The server matches a large statement in steps and reports them; here it reports a quarter
    // of a thousand lines done while the page's import is held back.
    const at = new Date().toISOString();
    await page.route("**/api/unfinished_statement_imports*", (route) =>
      route.fulfill({
        status: 200,
        contentType: "application/json",
        body: JSON.stringify([
          {
            statement_id: randomUUID(),
            studio_id: randomUUID(),
            kind: "camt.053",
            message_id: messageId,
            lines_done: 250,
            lines_total: 1000,
            started_at: at,
            progress_at: at,
            stalled: false,
          },
        ]),
      }),
    );
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route("**/api/import_bank_statement*", async (route) => {
      await held;
      await route.continue();
    });
    const importing = section(page, "Import bank statement");
    await importing.getByLabel("Bank statement file").setInputFiles({
      name: "statement.xml",
      mimeType: "application/xml",
      buffer: Buffer.from(statement(messageId, ZURICH_IBAN, [["DBIT", 4321, `E2E-NOBODY-${Date.now()}`, null]]), "utf-8"),
    });
    const progress = importing.getByTestId("statement-progress");
    await expect(progress).toContainText(new RegExp(`camt\\.053 ${messageId}: 250 of 1.?000 lines matched \\(25\\s%\\)`), {
      timeout: UI_TIMEOUT,
    });
    const bar = progress.getByRole("progressbar", { name: "Progress of the statement import" });
    await expect(bar).toHaveAttribute("value", "250");
    await expect(bar).toHaveAttribute("max", "1000");

    // Released, the real import answers and the progress gives way to its outcome.
    release();
    await expect(importing.getByRole("status").filter({ hasText: "imported" })).toContainText(
      "0 settled, 0 failed, 0 needs reconciliation, 1 unmatched",
      { timeout: UI_TIMEOUT },
    );
    await expect(progress).toHaveCount(0);
  });

  test("an employee sees her bank transfer with its expected date once her payout is committed", async ({
    browser,
    baseURL,
    request,
  }) => {
    const lara = await employee(request, "Lara Meier");
    const transfersOf = async () => {
      const response = await request.get(`/api/v1/employees/${lara.id}/settlements`);
      expect(response.status(), await response.text()).toBe(200);
      return (await response.json()) as SettlementItem[];
    };
    const before = await transfersOf();

    // Lara signs in in her own browser.
    const { context, page } = await signedInContext(browser, baseURL, LARA_LOGIN, `/employees/${lara.id}`);
    try {
      await expect(page.getByRole("heading", { level: 1, name: "Lara Meier" })).toBeVisible({ timeout: UI_TIMEOUT });
      await expect(page.getByRole("heading", { level: 2, name: "Bank transfers" })).toBeVisible();
      const rows = page.locator("table.bank-transfers tbody tr");
      if (before.length === 0) {
        // The demo pays her September only when the owner commits it: nothing on its way yet.
        await expect(page.getByText("No bank transfer yet")).toBeVisible({ timeout: UI_TIMEOUT });
      } else {
        // An earlier spec committed her payout already.
        await expect(rows).toHaveCount(before.length, { timeout: UI_TIMEOUT });
      }

      // The owner commits her payout (by bank transfer).
      const total = await commitBankPayout(request, "Lara Meier");
      const after = await transfersOf();
      expect(after).toHaveLength(before.length + 1);
      const transfer = after.find((t) => !before.some((b) => b.id === t.id)) as SettlementItem;
      expect(transfer).toMatchObject({ state: "scheduled", amount: total, counterparty: "Lara Meier" });

      await page.reload();
      await hydrated(page);
      const row = page.locator(`table.bank-transfers tr[data-item-id="${transfer.id}"]`);
      await expect(row).toBeVisible({ timeout: UI_TIMEOUT });
      await expect(row).toContainText(chf(total));
      await expect(row).toContainText("Scheduled");
      await expect(row).toContainText(date(transfer.expected_on));
      await expect(row).toContainText(countdown(transfer));
      // Her session reads her own transfers only, and no settlement overview.
      expect((await page.request.get("/api/v1/settlements")).status()).toBe(403);
    } finally {
      await context.close();
    }
  });

  test("bank details: a QR-IBAN is refused with the reason, a regular IBAN is saved", async ({ page }) => {
    await open(page, "/settlements");
    const details = section(page, "Bank details");

    const employeeForm = details.locator("form.employee-account");
    await employeeForm.getByRole("combobox", { name: "Employee" }).selectOption({ label: `Jonas Keller (${ZURICH})` });
    await employeeForm.getByLabel("Employee IBAN").fill(QR_IBAN);
    await employeeForm.getByRole("button", { name: "Save employee account" }).click();
    await expect(details.locator("p.error")).toContainText("IBAN:", { timeout: UI_TIMEOUT });
    await expect(details.locator("p.error")).toContainText("QR-IBAN");

    const studioForm = details.locator("form.studio-account");
    await studioForm.getByRole("combobox", { name: "Studio" }).selectOption({ label: BERN });
    await studioForm.getByLabel("Studio IBAN").fill(QR_IBAN);
    await studioForm.getByRole("button", { name: "Save studio account" }).click();
    await expect(details.locator("p.error").filter({ hasText: "only receives QR-bill payments" })).toBeVisible({
      timeout: UI_TIMEOUT,
    });

    // Bern's own account again (unchanged for every other test).
    await studioForm.getByLabel("Studio IBAN").fill(BERN_IBAN);
    await studioForm.getByRole("button", { name: "Save studio account" }).click();
    await expect(details.getByRole("status")).toContainText("The studio's account is saved", { timeout: UI_TIMEOUT });
  });
});

import { readFile } from "node:fs/promises";
import { expect, test } from "@playwright/test";
import { count, open, type Payout, today, UI_TIMEOUT } from "./helpers";

// CSV exports for the accountant (issue 10), as the demo owner: the Exports page shows each file's
// row count for the period, downloads it with progress, and the file's rows and sums agree with
// what the JSON API reports of the same books.

/** RFC 4180 records of `text` (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      record.push(field);
      field = "";
    } else if (c === "\n") {
      record.push(field.replace(/\r$/, ""));
      records.push(record);
      record = [];
      field = "";
    } else {
      field += c;
    }
  }
  expect(field, "the file ends with a line break").toBe("");
  return records;
}

/** A decimal CHF amount of the export (`-1234.50`) in Rappen, exactly. */
function rappen(text: string): number {
  const match = /^(-?)(\d+)\.(\d{2})$/.exec(text);
  expect(match, `'${text}' is an amount with two decimals`).not.toBeNull();
  const [, sign, whole, cents] = match as RegExpExecArray;
  const value = Number(whole) * 100 + Number(cents);
  return sign ? -value : value;
}

/** The column `name` of every data row of `records` (header first). */
function column(records: string[][], name: string): string[] {
  const index = records[0].indexOf(name);
  expect(index, `column ${name} in ${records[0].join(",")}`).toBeGreaterThanOrEqual(0);
  return records.slice(1).map((record) => record[index]);
}

const from = `${today().slice(0, 4)}-01-01`;
const to = today();

test.describe("Exports", () => {
  test("the owner downloads payouts.csv with progress, and its rows and total are the committed payouts'", async ({ page, request }) => {
    const listed = await request.get("/api/v1/payouts?state=committed");
    expect(listed.status()).toBe(200);
    const committed = ((await listed.json()) as (Payout & { committed_at: string })[]).filter(
      (p) => p.committed_at.slice(0, 10) >= from,
    );
    expect(committed.length).toBeGreaterThan(0);

    await open(page, `/exports?from=${from}&to=${to}`);
    await expect(page.getByTestId("rows-payouts")).toHaveText(count(committed.length), { timeout: UI_TIMEOUT });

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download payouts.csv" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`payouts-${from}-${to}.csv`);
    await expect(page.getByTestId("progress-payouts")).toHaveText(`Saved: ${count(committed.length)} rows.`, {
      timeout: UI_TIMEOUT,
    });

    const records = parseCsv(await readFile(await download.path(), "utf8"));
    expect(records.length - 1).toBe(committed.length);
    expect(column(records, "payout_id").sort()).toEqual(committed.map((p) => p.id).sort());
    const csvTotal = column(records, "total").map(rappen).reduce((a, b) => a + b, 0);
    expect(csvTotal).toBe(committed.reduce((sum, p) => sum + p.total, 0));
    // Umlauts arrive intact (UTF-8): the Zürich studio's name.
    expect(column(records, "studio_name")).toContain("Salon Seefeld, Zürich");
  });

  test("ledger-transfers.csv has the announced rows and its postings balance to zero", async ({ request }) => {
    const response = await request.get(`/api/v1/exports/ledger-transfers.csv?from=${from}&to=${to}`);
    expect(response.status(), await response.text()).toBe(200);
    expect(response.headers()["content-type"]).toBe("text/csv; charset=utf-8");
    const records = parseCsv(await response.text());
    expect(records.length - 1).toBe(Number(response.headers()["x-export-rows"]));
    expect(records.length - 1).toBeGreaterThan(0);
    // Double entry: every transfer's postings sum to zero, so the whole file does too.
    const sums = new Map<string, number>();
    const ids = column(records, "transfer_id");
    column(records, "amount").forEach((amount, i) => sums.set(ids[i], (sums.get(ids[i]) ?? 0) + rappen(amount)));
    for (const [id, sum] of sums) expect(sum, `transfer ${id}`).toBe(0);
  });

  test("a period that ends before it starts is refused with the field named, and nothing is offered", async ({ page }) => {
    await open(page, `/exports?from=${to}&to=1999-12-31`);
    await expect(page.locator("p.error")).toContainText("ends", { timeout: UI_TIMEOUT });
    await expect(page.getByRole("link", { name: "Download payouts.csv" })).toHaveCount(0);
  });
});

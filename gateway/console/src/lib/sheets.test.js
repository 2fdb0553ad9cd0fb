import { test } from "node:test";
import assert from "node:assert/strict";
import { countLines, parseCsv, refusedRowsCsv } from "./sheets.js";

test("a CSV's records keep the line they start on, as the import numbers them", () => {
  const text = '\ufeff姓名,手机号,技能\r\n王芳,13700130001,"普法,调解"\r\n\r\n李娜,13700130002,"一行\n两行"\r\n周婷,13700130003,\r\n';
  const records = parseCsv(text);
  assert.deepEqual(
    records.map((r) => [r.line, r.cells[0]]),
    [
      [1, "姓名"],
      [2, "王芳"],
      [4, "李娜"],
      [6, "周婷"],
    ],
  );
  assert.equal(records[1].cells[2], "普法,调解");
  assert.equal(countLines(text), 6);
});

test("a header separated by semicolons is read with semicolons", () => {
  const records = parseCsv("姓名;手机号\n王芳;13700130001\n");
  assert.deepEqual(records[1].cells, ["王芳", "13700130001"]);
});

test("the refused rows come back as a CSV to fix: cells, their line and why", () => {
  const records = parseCsv('姓名,手机号\n王芳,1370013000\n"李, 娜",13700130001\n周婷,13700130001\n');
  const reasons = new Map([
    [4, ["手机号与第 3 行重复"]],
    [2, ["手机号：格式不正确"]],
  ]);
  const csv = refusedRowsCsv(records, reasons);
  assert.ok(csv.startsWith("\ufeff"));
  assert.deepEqual(csv.slice(1).trim().split("\r\n"), [
    "姓名,手机号,原行号,未导入原因",
    "王芳,1370013000,2,手机号：格式不正确",
    "周婷,13700130001,4,手机号与第 3 行重复",
  ]);
});

// Reading the file a person is about to import, in the browser: how many lines it has (for the
// progress bar) and the cells of given lines (for the file of refused rows she fixes and
// uploads again). CSV as the import reads it (UTF-8, quoted fields may span lines; a record's
// line is the line it starts on); .xlsx is a zip: its first sheet is read with the browser's
// own inflater (DecompressionStream), the row number being the line.

export const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

export function isXlsx(file) {
  return file.type === XLSX_TYPE || /\.xlsx$/i.test(file.name);
}

/** CSV text → [{line, cells}] (blank lines skipped, as the import skips them). */
export function parseCsv(text) {
  const records = [];
  let cells = [];
  let cell = "";
  let quoted = false;
  let line = 1;
  let start = 1;
  let touched = false;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // the import's own choice: the mark the header line uses most (comma on a tie)
  const head = body.split(/\r\n|\n|\r/, 1)[0];
  const counts = [",", "\t", ";"].map((mark) => [mark, head.split(mark).length - 1]);
  const delimiter = counts.reduce((best, c) => (c[1] > best[1] ? c : best))[0];
  const finish = () => {
    cells.push(cell);
    if (touched || cells.length > 1 || cell !== "") records.push({ line: start, cells });
    cells = [];
    cell = "";
    touched = false;
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (quoted) {
      if (ch === '"' && body[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === "\n") line++;
        cell += ch;
      }
    } else if (ch === '"') {
      quoted = true;
      touched = true;
    } else if (ch === delimiter) {
      cells.push(cell);
      cell = "";
      touched = true;
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && body[i + 1] === "\n") i++;
      finish();
      line++;
      start = line;
    } else cell += ch;
  }
  if (cell !== "" || cells.length) finish();
  return records;
}

/** Lines of a CSV text (a last line without its newline counts). */
export function countLines(text) {
  let n = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return text.length && text[text.length - 1] !== "\n" ? n + 1 : n;
}

// --- .xlsx -------------------------------------------------------------------------------------

function zipEntries(buffer) {
  const view = new DataView(buffer);
  let end = -1;
  for (let i = buffer.byteLength - 22; i >= Math.max(0, buffer.byteLength - 65557); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error("not a zip");
  const count = view.getUint16(end + 10, true);
  let p = view.getUint32(end + 16, true);
  const entries = {};
  const decoder = new TextDecoder();
  for (let n = 0; n < count; n++) {
    const method = view.getUint16(p + 10, true);
    const size = view.getUint32(p + 20, true);
    const nameLength = view.getUint16(p + 28, true);
    const extraLength = view.getUint16(p + 30, true);
    const commentLength = view.getUint16(p + 32, true);
    const local = view.getUint32(p + 42, true);
    entries[decoder.decode(new Uint8Array(buffer, p + 46, nameLength))] = { method, size, local };
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

async function entryText(buffer, entry) {
  const view = new DataView(buffer);
  const start = entry.local + 30 + view.getUint16(entry.local + 26, true) + view.getUint16(entry.local + 28, true);
  const bytes = new Uint8Array(buffer, start, entry.size);
  if (entry.method === 0) return new TextDecoder().decode(bytes);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Response(stream).text();
}

function xml(text) {
  return new DOMParser().parseFromString(text, "application/xml");
}

function byTag(node, name) {
  return Array.from(node.getElementsByTagNameNS("*", name));
}

/** The first sheet of a workbook: {text, shared} (the sheet's XML and its shared strings). */
async function firstSheet(file, { strings = true } = {}) {
  const buffer = await file.arrayBuffer();
  const entries = zipEntries(buffer);
  let path = "xl/worksheets/sheet1.xml";
  try {
    const book = xml(await entryText(buffer, entries["xl/workbook.xml"]));
    const first = byTag(book, "sheet")[0];
    const rid = first?.getAttributeNS("http://schemas.openxmlformats.org/officeDocument/2006/relationships", "id") || first?.getAttribute("r:id");
    const rels = xml(await entryText(buffer, entries["xl/_rels/workbook.xml.rels"]));
    const target = byTag(rels, "Relationship").find((r) => r.getAttribute("Id") === rid)?.getAttribute("Target");
    if (target) path = target.startsWith("/") ? target.slice(1) : `xl/${target}`;
  } catch {
    // an unusual workbook: the usual place of the first sheet
  }
  if (!entries[path]) throw new Error("no sheet");
  const text = await entryText(buffer, entries[path]);
  let shared = [];
  if (strings && entries["xl/sharedStrings.xml"]) {
    const doc = xml(await entryText(buffer, entries["xl/sharedStrings.xml"]));
    shared = byTag(doc, "si").map((si) => byTag(si, "t").map((t) => t.textContent).join(""));
  }
  return { text, shared };
}

/** How many lines (rows) the first sheet has: its last row's number. */
export async function xlsxLineCount(file) {
  const { text } = await firstSheet(file, { strings: false });
  const dimension = /<(?:\w+:)?dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"/.exec(text);
  if (dimension) return Number(dimension[1]);
  const rows = [...text.matchAll(/<(?:\w+:)?row[^>]*\sr="(\d+)"/g)];
  return rows.length ? Number(rows[rows.length - 1][1]) : 0;
}

function columnIndex(ref) {
  const letters = /^[A-Z]+/.exec(ref)?.[0] || "A";
  let n = 0;
  for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}

function excelDate(serial) {
  const day = new Date(Date.UTC(1899, 11, 30) + Math.round(Number(serial)) * 86_400_000);
  return day.toISOString().slice(0, 10);
}

/** The first sheet's rows as [{line, cells}] (text as shown; dates in date columns as dates). */
export async function parseXlsx(file) {
  const { text, shared } = await firstSheet(file);
  const doc = xml(text);
  const records = [];
  for (const row of byTag(doc, "row")) {
    const cells = [];
    for (const c of byTag(row, "c")) {
      const type = c.getAttribute("t");
      let value = "";
      if (type === "s") value = shared[Number(byTag(c, "v")[0]?.textContent)] ?? "";
      else if (type === "inlineStr") value = byTag(c, "t").map((t) => t.textContent).join("");
      else value = byTag(c, "v")[0]?.textContent ?? "";
      cells[columnIndex(c.getAttribute("r") || "")] = value;
    }
    records.push({ line: Number(row.getAttribute("r")), cells: Array.from(cells, (v) => v ?? "") });
  }
  const header = records[0]?.cells || [];
  const dateColumns = header.map((h, i) => (/同意日期|consented_on/.test(h) ? i : -1)).filter((i) => i >= 0);
  for (const record of records.slice(1)) {
    for (const i of dateColumns) {
      if (/^\d+(\.\d+)?$/.test(record.cells[i] || "")) record.cells[i] = excelDate(record.cells[i]);
    }
  }
  return records;
}

// --- the file of refused rows ------------------------------------------------------------------

function csvCell(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A CSV (UTF-8 with BOM, for spreadsheets) of the header, then each refused line's cells with
 * its line and reasons in two more columns, which the import ignores when it comes back. */
export function refusedRowsCsv(records, reasonsByLine) {
  const header = records[0]?.cells || [];
  const width = header.length;
  const lines = [[...header, "原行号", "未导入原因"]];
  const byLine = new Map(records.map((r) => [r.line, r.cells]));
  for (const [line, reasons] of [...reasonsByLine.entries()].sort((a, b) => a[0] - b[0])) {
    const cells = byLine.get(line) || [];
    const padded = Array.from({ length: width }, (_, i) => cells[i] ?? "");
    lines.push([...padded, line, reasons.join("；")]);
  }
  return `\ufeff${lines.map((cells) => cells.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

/** Save text as a file the person downloads. */
export function saveText(text, name, type = "text/csv;charset=utf-8") {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

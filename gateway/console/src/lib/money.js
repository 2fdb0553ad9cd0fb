// Money: the API counts integer fen (分); people read and type 元 with two decimals.
// Amounts typed in 元 are parsed as strings into integer fen — never through float arithmetic.

const YUAN = /^([0-9]{1,13})(?:\.([0-9]{0,2}))?$/;

/** "12,345.6" / "¥12345.60" / "0.1" → integer fen, or null when it is not an amount. */
export function parseYuan(text) {
  if (text === null || text === undefined) return null;
  const cleaned = String(text).trim().replace(/^[¥￥]/, "").replace(/[,，]/g, "");
  const match = YUAN.exec(cleaned);
  if (!match) return null;
  const whole = Number(match[1]);
  const cents = Number((match[2] || "").padEnd(2, "0"));
  const fen = whole * 100 + cents;
  return Number.isSafeInteger(fen) ? fen : null;
}

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** integer fen → "12,345.60" (no currency sign), for inputs. */
export function fenToYuanText(fen) {
  if (fen === null || fen === undefined || fen === "") return "";
  const value = Number(fen);
  const negative = value < 0;
  const abs = Math.abs(value);
  const text = `${groupThousands(String(Math.trunc(abs / 100)))}.${String(abs % 100).padStart(2, "0")}`;
  return negative ? `-${text}` : text;
}

/** integer fen → "¥12,345.60"; a missing amount is "—". */
export function formatFen(fen) {
  if (fen === null || fen === undefined || fen === "") return "—";
  const text = fenToYuanText(fen);
  return text.startsWith("-") ? `-¥${text.slice(1)}` : `¥${text}`;
}

/** Sum of integer fen amounts (strings typed in 元 are parsed first; unparsable ones count 0). */
export function sumFen(amounts) {
  return amounts.reduce((total, amount) => {
    const fen = typeof amount === "number" ? amount : parseYuan(amount);
    return total + (fen ?? 0);
  }, 0);
}

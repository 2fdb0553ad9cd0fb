// Dates are shown in China time (Asia/Shanghai) whatever the browser's zone.
const ZONE = "Asia/Shanghai";

const dateParts = new Intl.DateTimeFormat("en-CA", {
  timeZone: ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

function parts(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  return Object.fromEntries(dateParts.formatToParts(date).map((p) => [p.type, p.value]));
}

/** "2026-03-28" for a date ("2026-03-28" stays as it is) or an instant in China time. */
export function formatDate(value) {
  if (!value) return "—";
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const p = parts(value);
  return p ? `${p.year}-${p.month}-${p.day}` : "—";
}

/** "2026-03-28 14:05" in China time. */
export function formatDateTime(value) {
  if (!value) return "—";
  const p = parts(value);
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}` : "—";
}

/** Today's date in China time, "2026-03-28". */
export function todayInChina() {
  return formatDate(new Date());
}

// 志愿服务证明: what the certificate pages share — the words of its figures and the way a
// certificate is downloaded as PDF (the token in the header, never in a link).
import { download } from "../../lib/api.js";
import { THEMES } from "../../lib/labels.js";

/** Who issues and revokes (the service narrows each to her line); a volunteer reads her own. */
export const ISSUERS = ["team_leader", "federation_staff", "admin"];
export const READERS = [...ISSUERS, "volunteer"];

export const themeNames = (themes) => (themes || []).map((t) => THEMES[t] || "其他").join("、") || "—";

/** "2026-10-01" → "2026年10月1日" (as the certificate prints it). */
export function chineseDate(text) {
  if (!text) return "—";
  const [y, m, d] = String(text).slice(0, 10).split("-");
  return `${Number(y)}年${Number(m)}月${Number(d)}日`;
}

export function hoursOf(value) {
  return String(Number(value || 0).toFixed(2)).replace(/\.?0+$/, "") || "0";
}

export const downloadPdf = (certificate) =>
  download(`/certificates/${certificate.id}/pdf`, `志愿服务证明-${certificate.number}.pdf`);

// What the volunteer pages share: names for the ids the API returns (teams, volunteers,
// organizations, projects, as far as the person may read them) and China-time conversions.
import { getAll } from "../../lib/api.js";
import { session } from "../../lib/session.js";

export const MANAGERS = ["federation_staff", "admin"];
export const isManager = () => MANAGERS.includes(session.user?.role);
export const isAdmin = () => session.user?.role === "admin";
export const onRoster = () => ["team_leader", ...MANAGERS].includes(session.user?.role);

async function quietly(load) {
  try {
    return await load();
  } catch {
    return [];
  }
}

/** {id: name} of what a list route gives this person (nothing when she may not read it). */
export async function namesOf(path, query = {}, label = "name") {
  const items = await quietly(() => getAll(path, query));
  return Object.fromEntries(items.map((item) => [item.id, item[label]]));
}

export const teamNames = () => namesOf("/teams");
/** Organizations that may host a team (federations and host units) — staff and admins. */
export async function hosts() {
  if (!isManager()) return [];
  const [federations, units] = await Promise.all([
    quietly(() => getAll("/organizations", { kind: "federation" })),
    quietly(() => getAll("/organizations", { kind: "host_unit" })),
  ]);
  return [...federations, ...units];
}
export const projectTitles = () => namesOf("/projects", {}, "title");

/** "2026-03-28 14:05" typed in China time → ISO with its +08:00 offset. */
export function chinaToIso(text) {
  if (!text) return undefined;
  const [day, time = "00:00"] = text.split(" ");
  return `${day}T${time.length === 5 ? `${time}:00` : time}+08:00`;
}

/** Minutes as hours with up to two decimals: "1.5". */
export function hoursText(minutes) {
  return String(Math.round((minutes / 60) * 100) / 100);
}

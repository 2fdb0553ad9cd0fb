// Who is logged in: the token and the user, kept in sessionStorage (a tab's session).
import { reactive } from "vue";

const KEY = "jinguo.session";

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

const saved = load();

export const session = reactive({
  token: saved?.token || null,
  user: saved?.user || null,
});

export function saveSession(token, user) {
  session.token = token;
  session.user = user;
  sessionStorage.setItem(KEY, JSON.stringify({ token, user }));
}

export function clearSession() {
  session.token = null;
  session.user = null;
  sessionStorage.removeItem(KEY);
}

export function hasRole(...roles) {
  return !!session.user && roles.includes(session.user.role);
}

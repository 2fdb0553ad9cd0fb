// The one way the console talks to the API (/api/v1): bearer token, JSON, Chinese errors.
// An expired or invalid token sends the person back to the login page, saying so.
import { clearSession, session } from "./session.js";
import { errorMessage } from "./errors.js";

export const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, error) {
    super(errorMessage(status, error));
    this.status = status;
    this.code = error?.code || null;
    this.details = error?.details || {};
  }
}

let onSessionExpired = () => {};
export function whenSessionExpires(handler) {
  onSessionExpired = handler;
}

export function newIdempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, value);
  }
  const text = params.toString();
  return `${BASE}${path}${text ? `?${text}` : ""}`;
}

async function send(method, path, { body, query, idempotencyKey, raw, contentType } = {}) {
  const headers = { Accept: "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  let payload;
  if (raw !== undefined) {
    payload = raw;
    headers["Content-Type"] = contentType || "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url(path, query), { method, headers, body: payload });
  } catch {
    throw new ApiError(0, null);
  }
  return response;
}

async function errorOf(response) {
  let error = null;
  try {
    error = (await response.json()).error;
  } catch {
    error = null;
  }
  if (response.status === 401 && session.token && ["TOKEN_EXPIRED", "INVALID_TOKEN"].includes(error?.code)) {
    clearSession();
    onSessionExpired();
  }
  return new ApiError(response.status, error);
}

/** JSON request; resolves to the parsed body, rejects with an ApiError. */
export async function api(method, path, options = {}) {
  const response = await send(method, path, options);
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (path, query) => api("GET", path, { query });
export const post = (path, body, idempotencyKey) => api("POST", path, { body, idempotencyKey });
export const patch = (path, body) => api("PATCH", path, { body });

/** Download an answer as a file (the token in the header, never in the URL). */
export async function download(path, filename) {
  const response = await send("GET", path);
  if (!response.ok) throw await errorOf(response);
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename\*=UTF-8''([^;]+)/i.exec(disposition) || /filename="?([^";]+)"?/i.exec(disposition);
  const name = filename || (match ? decodeURIComponent(match[1]) : "download");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  return { name, size: blob.size, type: blob.type };
}

/** Upload one file as the raw body (POST /files?name=...). */
export async function uploadFile(file) {
  const response = await send("POST", `/files?name=${encodeURIComponent(file.name)}`, {
    raw: file,
    contentType: file.type || "application/octet-stream",
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

/** Every page of a list (for small lists: menus, choosers). */
export async function getAll(path, query = {}, max = 2000) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path, { ...query, limit: 500, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

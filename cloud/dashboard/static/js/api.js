// The API client: every request carries the operator's key (when one is set) and fails with
// an ApiError that says what went wrong, so views can show it instead of a blank panel.

const KEY = "citytwin.apiKey";
const NAME = "citytwin.operator";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// sessionStorage, not localStorage: the key leaves with the tab, as a login session should.
export const auth = {
  key: () => sessionStorage.getItem(KEY) || "",
  name: () => sessionStorage.getItem(NAME) || "operator",
  save(key, name) {
    if (key) sessionStorage.setItem(KEY, key);
    if (name) sessionStorage.setItem(NAME, name);
  },
  forget: () => sessionStorage.removeItem(KEY),
};

let onUnauthorized = () => {};

/** Called with the refusal's status (401 or 403) when the API refuses the key. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** Tell the page a request outside this module (the event stream) was refused. */
export function refused(status) {
  onUnauthorized(status);
}

export function headers(extra = {}) {
  const key = auth.key();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function request(method, path, body) {
  const init = { method, headers: headers({ Accept: "application/json" }) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, `the aggregator cannot be reached (${error.message})`);
  }
  if (response.status === 401 || response.status === 403) refused(response.status);
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const data = await response.json();
      detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    } catch {
      // not JSON: the status text says enough
    }
    throw new ApiError(response.status, `${method} ${path}: ${response.status} ${detail}`);
  }
  return response.json();
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);

/** GET that answers null when the endpoint does not exist (yet) on this aggregator. */
export async function getOptional(path) {
  try {
    return await get(path);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
    throw error;
  }
}

/** Every item of a paged list endpoint (pages of `limit`, fetched in parallel after the first). */
export async function getAll(path, params = {}, limit = 1000) {
  const url = (offset) => `${path}?${new URLSearchParams({ ...params, limit, offset })}`;
  const first = await get(url(0));
  const pages = [];
  for (let offset = limit; offset < first.total; offset += limit) pages.push(get(url(offset)));
  const rest = await Promise.all(pages);
  return first.items.concat(...rest.map((page) => page.items));
}

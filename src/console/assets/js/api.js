// api.js — the console's JSON API (/console/api/…). The session cookie is
// HttpOnly: the page never sees it; POSTs carry the CSRF token the session
// endpoint gave.

let csrf = '';

export function setCsrf(token) {
  csrf = token || '';
}

export class ApiError extends Error {
  constructor(status, text) {
    super(text);
    this.status = status;
  }
}

async function answer(response) {
  let data = {};
  try {
    data = await response.json();
  } catch (e) {
    data = {};
  }
  if (!response.ok) throw new ApiError(response.status, data.error || ('HTTP ' + response.status));
  return data;
}

export async function get(endpoint, params = {}) {
  const url = new URL('/console/api/' + endpoint, window.location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
  }
  const response = await fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}});
  return answer(response);
}

export async function post(endpoint, body = {}) {
  const response = await fetch('/console/api/' + endpoint, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf, Accept: 'application/json'},
    body: JSON.stringify(body),
  });
  return answer(response);
}

// The Stratus console: a page over /_stratus/console/api. Every string from the server is
// tenant data and reaches the page only as text (textContent, DOM nodes), never as markup.
import { renderEnvironments, renderFunction, renderFunctions } from './views.js';

const API = '/_stratus/console/api';
const $ = (id) => document.getElementById(id);
const state = { session: undefined, stop: [] };

/** A JSON call; POSTs carry the console's header (the server refuses cross-origin ones without it). */
export async function api(path, body) {
  const init = body === undefined
    ? { credentials: 'same-origin' }
    : { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-stratus-console': '1' }, body: JSON.stringify(body) };
  const res = await fetch(`${API}/${path}`, init);
  if (res.status === 401 && path !== 'login') {
    showLogin();
    throw new Error('signed out');
  }
  const text = await res.text();
  const data = text === '' ? {} : JSON.parse(text);
  if (!res.ok) throw new Error(data.message ?? data.Message ?? `HTTP ${res.status}`);
  return data;
}

/** An element with attributes and children; strings become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
}

/** Runs `fn` now and every `ms` until the view changes. */
export function every(ms, fn) {
  let alive = true;
  const tick = async () => {
    try { await fn(); } catch (err) { if (String(err) !== 'Error: signed out') console.warn(err); }
    if (alive) timer = setTimeout(tick, ms);
  };
  let timer = setTimeout(tick, 0);
  state.stop.push(() => { alive = false; clearTimeout(timer); });
}

function showLogin() {
  state.session = undefined;
  for (const stop of state.stop.splice(0)) stop();
  $('view').replaceChildren();
  $('login').hidden = false;
  $('nav').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
}

function signedIn(session) {
  state.session = session;
  $('login').hidden = true;
  $('nav').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = `account ${session.accountId}`;
  route();
}

async function route() {
  if (!state.session) return;
  for (const stop of state.stop.splice(0)) stop();
  const view = $('view');
  view.replaceChildren();
  const hash = decodeURIComponent(location.hash.slice(1));
  const fn = /^\/functions\/([A-Za-z0-9_-]{1,64})(?:\/([a-z]+))?$/.exec(hash);
  try {
    if (fn) await renderFunction(view, fn[1], fn[2] ?? 'configuration');
    else if (hash === '/environments') await renderEnvironments(view);
    else await renderFunctions(view);
  } catch (err) {
    if (String(err) !== 'Error: signed out') view.replaceChildren(el('p', { class: 'error', role: 'alert' }, String(err.message ?? err)));
  }
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('login-error').textContent = '';
  try {
    signedIn(await api('login', { accessKeyId: $('access-key-id').value, secretAccessKey: $('secret-access-key').value }));
    $('secret-access-key').value = '';
  } catch (err) {
    $('login-error').textContent = String(err.message ?? err);
  }
});
$('logout').addEventListener('click', async () => {
  await api('logout', {}).catch(() => undefined);
  showLogin();
});
window.addEventListener('hashchange', route);
fetch(`${API}/session`, { credentials: 'same-origin' })
  .then(async (res) => (res.ok ? signedIn(await res.json()) : showLogin()))
  .catch(showLogin);

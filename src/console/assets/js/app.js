// app.js — the console's shell: login, the navigation, and one view per
// route (#/overview, #/schema/ID, #/workflows, #/run/ID, #/subscriptions,
// #/operators). Views render into <main> and return a function that stops
// their refresh timers.
import {ApiError, get, post, setCsrf} from './api.js';
import {el, message} from './dom.js';
import * as overview from './overview.js';
import * as schema from './schema.js';
import * as workflows from './workflows.js';
import * as subscriptions from './subscriptions.js';
import * as operators from './operators.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const loginSection = document.getElementById('login');
const loginForm = document.getElementById('login-form');
const loginError = document.getElementById('login-error');
const who = document.getElementById('who');
const logout = document.getElementById('logout');

let session = null;
let stopView = null;
let generation = 0;

const routes = {
  overview: (arg, ctx) => overview.render(main, ctx),
  schemas: (arg, ctx) => schema.renderList(main, ctx),
  schema: (arg, ctx) => schema.render(main, ctx, arg),
  workflows: (arg, ctx) => workflows.render(main, ctx),
  run: (arg, ctx) => workflows.renderRun(main, ctx, arg),
  subscriptions: (arg, ctx) => subscriptions.render(main, ctx),
  operators: (arg, ctx) => operators.render(main, ctx),
};

function showLogin(text) {
  session = null;
  setCsrf('');
  nav.hidden = true;
  logout.hidden = true;
  who.textContent = '';
  main.replaceChildren();
  loginSection.hidden = false;
  loginError.textContent = text || '';
  document.getElementById('login-name').focus();
}

function showApp(s) {
  session = s;
  setCsrf(s.csrf);
  loginSection.hidden = true;
  nav.hidden = false;
  logout.hidden = false;
  document.getElementById('nav-operators').hidden = !s.admin;
  who.textContent = s.login + (s.admin ? ' (admin)' : '');
  route();
}

// A view's failure: back to the login on an expired session, else a message.
function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    showLogin('Your session ended: log in again.');
    return;
  }
  main.replaceChildren(message(error.message, 'error'));
}

async function route() {
  if (!session) return;
  if (stopView) stopView();
  stopView = null;
  const mine = ++generation;
  const hash = window.location.hash.replace(/^#\/?/, '') || 'overview';
  const slash = hash.indexOf('/');
  const name = slash < 0 ? hash : hash.slice(0, slash);
  const arg = slash < 0 ? '' : decodeURIComponent(hash.slice(slash + 1));
  const view = routes[name] || routes.overview;
  const active = name === 'run' ? 'workflows' : (name === 'schemas' ? 'schema' : name);
  for (const link of nav.querySelectorAll('a')) {
    link.classList.toggle('active', link.dataset.route === active);
  }
  main.replaceChildren(el('p', {class: 'loading'}, 'Loading…'));
  const ctx = {session, failed, current: () => mine === generation};
  try {
    const stop = await view(arg, ctx);
    if (mine === generation) stopView = stop || null;
    else if (stop) stop();
  } catch (error) {
    if (mine === generation) failed(error);
  }
}

loginForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  loginError.textContent = '';
  const button = document.getElementById('login-submit');
  button.disabled = true;
  try {
    const s = await post('login', {
      login: document.getElementById('login-name').value,
      password: document.getElementById('login-password').value,
    });
    document.getElementById('login-password').value = '';
    showApp(s);
  } catch (error) {
    loginError.textContent = error.message;
  } finally {
    button.disabled = false;
  }
});

logout.addEventListener('click', async () => {
  try {
    await post('logout');
  } catch (error) {
    // The session may already be gone; the login form is shown either way.
  }
  if (stopView) stopView();
  stopView = null;
  showLogin('Logged out.');
});

window.addEventListener('hashchange', route);

get('session').then((s) => (s.login ? showApp(s) : showLogin(''))).catch(() => showLogin(''));

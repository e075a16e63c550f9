// dom.js — building the page without markup: every value goes in as a text
// node (textContent), never through innerHTML, so data can never become HTML.

// el('td', {class: 'num', dataset: {schema: id}}, 'text', childNode, …)
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  append(node, children);
  return node;
}

function setProps(node, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  append(node, children);
  return node;
}

// A table: headers, then rows of cells (a cell is a value or a ready <td>).
export function table(headers, rows, props = {}) {
  const head = el('thead', {}, el('tr', {}, headers.map((h) => el('th', {scope: 'col'}, h))));
  const body = el('tbody', {}, rows.map((cells) => el('tr', {}, cells.map(
    (c) => (c instanceof Node && c.nodeName === 'TD') ? c : el('td', {}, c)))));
  return el('div', {class: 'scroll'}, el('table', props, head, body));
}

export function cell(value, props = {}) {
  if (value === null || value === undefined) return el('td', {...props, class: ((props.class || '') + ' null').trim()}, 'NULL');
  return el('td', props, String(value));
}

export function time(epoch) {
  if (!epoch) return '—';
  return new Date(epoch * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || seconds < 0) return '—';
  if (seconds < 60) return seconds + ' s';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + (seconds % 60) + ' s';
  if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' min';
  return Math.floor(seconds / 86400) + ' d ' + Math.floor((seconds % 86400) / 3600) + ' h';
}

// Seconds since an API datetime ("2026-12-04 13:49:20.123Z").
export function ageOf(datetime, now) {
  if (!datetime) return null;
  const t = Date.parse(datetime.replace(' ', 'T'));
  if (Number.isNaN(t)) return null;
  return Math.max(0, Math.round(now - t / 1000));
}

export function message(text, kind = 'info') {
  return el('p', {class: 'message ' + kind, role: kind === 'error' ? 'alert' : 'status'}, text);
}

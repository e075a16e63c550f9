// schema.js — one staged schema: its staging rows and its cloud rows side by
// side, filtered by an attribute expression (the ExecuteQuery language), paged.
import {get} from './api.js';
import {cell, el, message, table} from './dom.js';

const PAGE = 25;

export async function renderList(main, ctx) {
  const data = await get('overview');
  if (!ctx.current()) return null;
  main.replaceChildren(el('h1', {}, 'Schemas'), el('section', {class: 'card'},
    data.schemas.length ? table(['schema', 'label', 'pending rows'], data.schemas.map((s) => [
      el('td', {}, el('a', {href: '#/schema/' + encodeURIComponent(s.schema)}, s.schema)), s.label, s.pending]))
      : message('No staged schema you may read.')));
  return null;
}

function panel(id, side, title, state, ctx) {
  const box = el('div', {class: 'panel', id: side + '-panel'});
  let start = 0;
  const load = async () => {
    box.replaceChildren(el('h2', {}, title), el('p', {class: 'loading'}, 'Loading…'));
    let data;
    try {
      data = await get('rows', {schema: id, side, where: state.where, start, count: PAGE});
    } catch (error) {
      if (error.status === 401) throw error;
      box.replaceChildren(el('h2', {}, title), message(error.message, 'error'));
      return;
    }
    if (!ctx.current()) return;
    const prev = el('button', {type: 'button', class: 'prev', disabled: start === 0}, '‹ previous');
    const next = el('button', {type: 'button', class: 'next', disabled: !data.more}, 'next ›');
    prev.addEventListener('click', () => {
      start = Math.max(0, start - PAGE);
      load().catch(ctx.failed);
    });
    next.addEventListener('click', () => {
      start += PAGE;
      load().catch(ctx.failed);
    });
    const first = data.rows.length ? start + 1 : 0;
    box.replaceChildren(
      el('h2', {}, title, el('span', {class: 'sub'}, ' ' + data.schema)),
      data.rows.length ? table(data.columns, data.rows.map((row) => row.map((v) => cell(v))), {class: 'rows'})
        : message(state.where ? 'No row matches the filter.' : 'No row.'),
      el('p', {class: 'pager'}, prev, ` rows ${first}–${start + data.rows.length} `, next));
  };
  return {box, reset: () => {
    start = 0;
    return load();
  }};
}

export async function render(main, ctx, id) {
  const state = {where: ''};
  const staging = panel(id, 'staging', 'Staging (pending)', state, ctx);
  const cloud = panel(id, 'cloud', 'Cloud', state, ctx);
  const input = el('input', {id: 'where', type: 'text', placeholder: "@testcol1 LIKE 'a%'", size: 40,
    'aria-label': 'filter expression'});
  const form = el('form', {class: 'filter', id: 'filter-form'},
    el('label', {for: 'where'}, 'Filter '), input, ' ',
    el('button', {type: 'submit'}, 'Apply'), ' ',
    el('span', {class: 'hint'}, "an expression over the attributes, e.g. @testcol1 = 'x' AND @id LIKE 'A%'"));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    state.where = input.value.trim();
    Promise.all([staging.reset(), cloud.reset()]).catch(ctx.failed);
  });
  main.replaceChildren(el('h1', {}, 'Schema ', el('span', {id: 'schema-id'}, id)), form,
    el('div', {class: 'side-by-side'}, staging.box, cloud.box));
  await Promise.all([staging.reset(), cloud.reset()]);
  return null;
}

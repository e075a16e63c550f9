// operators.js — admins only (the server refuses others): the operators, their
// rights, disable / enable.
import {get, post} from './api.js';
import {el, message, table} from './dom.js';

export async function render(main, ctx) {
  let data;
  try {
    data = await get('operators');
  } catch (error) {
    if (error.status === 401) throw error;
    main.replaceChildren(el('h1', {}, 'Operators'), message(error.message, 'error'));
    return null;
  }
  if (!ctx.current()) return null;
  const rows = data.operators.map((op) => {
    const button = el('button', {type: 'button', class: 'toggle', dataset: {login: op.login}},
      op.disabled ? 'Enable' : 'Disable');
    const note = el('span', {class: 'note', role: 'status'});
    button.disabled = op.login === ctx.session.login && !op.disabled;
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await post('operator', {login: op.login, disabled: !op.disabled});
        await render(main, ctx);
      } catch (error) {
        note.textContent = error.message;
        button.disabled = false;
      }
    });
    return [op.login, op.admin ? 'admin' : (op.schemas.join(', ') || '—'),
      el('td', {class: op.disabled ? 'status error' : 'status done', dataset: {field: 'state', login: op.login}},
        op.disabled ? 'disabled' : 'enabled'),
      el('td', {}, button, ' ', note)];
  });
  main.replaceChildren(el('h1', {}, 'Operators'),
    el('section', {class: 'card'}, rows.length ? table(['login', 'rights', 'state', ''], rows, {id: 'operators'})
      : message('No operator.')));
  return null;
}

// subscriptions.js — services with their subscriber counts, and the recent
// subscription history (subscribe, unsubscribe, blocklist, refused and why).
import {get} from './api.js';
import {cell, el, message, table} from './dom.js';

const CHANNELS = {0: 'email', 1: 'mobile', 2: 'phone', 3: 'direct mail', 4: 'fax'};

export async function render(main, ctx) {
  let data;
  try {
    data = await get('subscriptions');
  } catch (error) {
    if (error.status === 401) throw error;
    main.replaceChildren(el('h1', {}, 'Subscriptions'), message(error.message, 'error'));
    return null;
  }
  if (!ctx.current()) return null;
  main.replaceChildren(
    el('h1', {}, 'Subscriptions'),
    el('section', {class: 'card'}, el('h2', {}, 'Services'),
      data.services.length ? table(['service', 'label', 'channel', 'subscribers'], data.services.map((s) => [
        s.name, s.label, CHANNELS[s.channel] || s.channel, cell(s.subscribers, {class: 'num'})]), {id: 'services'})
        : message('No service yet (stagebridge service add NAME).')),
    el('section', {class: 'card'}, el('h2', {}, 'Recent history'),
      data.history.length ? table(['requested', 'applied', 'action', 'service', 'recipient', 'origin', 'reason'],
        data.history.map((h) => [h.requested, h.applied, cell(h.action, {class: 'action ' + h.action}),
          h.serviceName === '' ? '(blocklist)' : h.serviceName, h.recipientKey, h.origin, h.reason]),
        {id: 'history'}) : message('No subscription request applied yet.')));
  return null;
}
